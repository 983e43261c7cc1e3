"""Data-subject dividends: the subject-pool share of leases, split exactly among the persons
of the release those leases were made of.

A lease's pool amount ``a`` goes to the release's ``n`` persons by the largest-remainder
method: each gets ``a // n`` fen, and the ``a % n`` fen left over go one each to the next
persons of a rotation that starts at a place keyed by the lease id (every remainder is the
same, so the tie is broken by the lease; no one is always first). The parts of every lease
sum to its amount, so a dividend sums to the pool amounts it pays out, to the fen.

A dividend is one transaction per release: it debits the pool by the sum and credits each
person's ``subject:<id>`` account their part, and its meta holds all the verifier needs to
recompute every part: the persons, each lease's amount and, restated whole, the split and
refund entries of those leases that moved money into or out of the pool. The verifier
recomputes the amounts from those entries (:func:`check_dividend`), then checks in the log
that each is an earlier entry with that very leaf hash and pays into one dividend only
(:func:`check_sources`).
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from contracts.canonical import canonical_json
from contracts.errors import DividendError
from contracts.ledger import DEFAULT_CURRENCY, Posting, Transaction
from contracts.merkle import MerkleTree, leaf_hash

SUBJECT = "subject"
DIVIDEND = "dividend"
# The persons of a dividend are one string of sorted pseudonyms: a city's worth of them
# costs one JSON value, not one per person, each time the entry is checked and hashed.
PERSON_SEPARATOR = ","
SOURCE_KINDS = ("split", "refund")


def subject_account(person: str) -> str:
    """The dividend account of a person, named by their pseudonym: ``subject:<id>``."""
    if not isinstance(person, str) or not person or ":" in person:
        raise DividendError(f"a person id is a non-empty string without ':'; got {person!r}")
    return f"{SUBJECT}:{person}"


def rotation_start(lease_id: str, persons: int) -> int:
    """Where the rotation of a lease's leftover fen starts among ``persons``."""
    digest = hashlib.sha256(lease_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % persons


def allocate(amounts: Mapping[str, int], persons: Sequence[str]) -> np.ndarray:
    """Each person's part (aligned with ``persons``) of the pool amounts of the leases in
    ``amounts``; the parts sum to the amounts exactly."""
    _check_persons(persons)
    n = len(persons)
    base = 0
    starts = np.zeros(n + 1, dtype=np.int64)  # +1 where a rotation starts, -1 after it ends
    for lease_id, amount in amounts.items():
        if type(amount) is not int or amount < 0:
            raise DividendError(
                f"the pool amount of lease {lease_id!r} must be a non-negative int of minor "
                f"units; got {amount!r}"
            )
        whole, left = divmod(amount, n)
        base += whole
        if not left:
            continue
        first = rotation_start(lease_id, n)
        end = first + left
        starts[first] += 1
        if end <= n:
            starts[end] -= 1
        else:  # wraps around the end of the persons
            starts[n] -= 1
            starts[0] += 1
            starts[end - n] -= 1
    return base + np.cumsum(starts[:n])


def _check_persons(persons: Sequence[str]) -> None:
    # Checked at C speed: a dividend may name a city's worth of persons.
    if not len(persons):
        raise DividendError("a dividend needs at least one person")
    try:
        joined = "\n".join(persons)
    except TypeError:
        raise DividendError("persons are strings") from None
    if ":" in joined or PERSON_SEPARATOR in joined or "" in persons:
        raise DividendError(f"persons are non-empty strings without ':' or {PERSON_SEPARATOR!r}")
    if not all(map(operator.lt, persons, itertools.islice(persons, 1, None))):
        raise DividendError("persons must be sorted and each listed once")


def pool_amounts(pool: str, currency: str, sources: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """What the split and refund entries ``sources`` left in ``pool``, per lease."""
    out: dict[str, int] = {}
    for source in sources:
        meta = source.get("meta") if isinstance(source, Mapping) else None
        lease = meta.get("lease_id") if isinstance(meta, Mapping) else None
        if source.get("type") != "transaction" or source.get("kind") not in SOURCE_KINDS:
            raise DividendError("a dividend's sources are split and refund transactions")
        if type(lease) is not str or not lease:
            raise DividendError("each source of a dividend names its lease in meta.lease_id")
        postings = source.get("postings")
        if type(postings) is not list:
            raise DividendError(f"source {source.get('id')!r} has no list of postings")
        moved = sum(
            p.get("amount_minor", 0)
            for p in postings
            if isinstance(p, Mapping) and p.get("account") == pool and p.get("currency") == currency
        )
        if type(moved) is not int:
            raise DividendError(f"source {source.get('id')!r} has an amount that is not an int")
        out[lease] = out.get(lease, 0) + moved
    return out


def dividend(
    pool: str,
    release_id: str,
    persons: Sequence[str],
    sources: Sequence[Mapping[str, Any]],
    *,
    time: datetime,
    currency: str = DEFAULT_CURRENCY,
) -> Transaction:
    """The dividend of ``sources`` (the ledger entries of leases of release ``release_id``
    that moved money into or out of ``pool``) to ``persons``, the release's sorted
    pseudonyms."""
    amounts = pool_amounts(pool, currency, sources)
    parts = allocate(amounts, persons)
    total = sum(amounts.values())
    if total <= 0:
        raise DividendError("a dividend pays out a positive amount")
    postings = [Posting(pool, -total, currency)]
    postings += [
        Posting(f"{SUBJECT}:{p}", part, currency)  # persons were checked by allocate
        for p, part in zip(persons, parts.tolist(), strict=True)
        if part
    ]
    meta = {
        "pool": pool,
        "release_id": release_id,
        "currency": currency,
        "amount_minor": total,
        "leases": dict(sorted(amounts.items())),
        "persons": PERSON_SEPARATOR.join(persons),
        "sources": [dict(s) for s in sources],
    }
    return Transaction.create(DIVIDEND, time, postings, meta)


def check_dividend(
    tx_id: str, postings: list[tuple[str, int, str]], meta: Mapping[str, Any]
) -> None:
    """A dividend debits its pool by the sum of its leases' pool amounts, each recomputed from
    its restated sources, and credits each person exactly their part of :func:`allocate`."""
    pool, joined, sources = meta.get("pool"), meta.get("persons"), meta.get("sources")
    currency = meta.get("currency")
    if (
        type(pool) is not str
        or type(joined) is not str
        or type(sources) is not list
        or type(currency) is not str
    ):
        raise DividendError(
            f"dividend {tx_id}: meta must hold pool, currency, persons and sources", tx_id=tx_id
        )
    persons = joined.split(PERSON_SEPARATOR)
    amounts = pool_amounts(pool, currency, sources)
    if meta.get("leases") != amounts:
        raise DividendError(
            f"dividend {tx_id}: the leases' pool amounts {meta.get('leases')} are not what "
            f"their sources left in {pool} ({amounts})",
            tx_id=tx_id,
        )
    total = sum(amounts.values())
    if meta.get("amount_minor") != total:
        raise DividendError(
            f"dividend {tx_id}: amount_minor is not the sum of its leases' amounts ({total})",
            tx_id=tx_id,
        )
    parts = allocate(amounts, persons)
    expected = {f"{SUBJECT}:{p}": v for p, v in zip(persons, parts.tolist(), strict=True) if v}
    taken: dict[str, int] = {}
    given: dict[str, int] = {}
    for account, amount, posted in postings:
        if posted != currency:
            raise DividendError(f"dividend {tx_id}: a posting is not in {currency}", tx_id=tx_id)
        if amount > 0:
            given[account] = given.get(account, 0) + amount
        else:
            taken[account] = taken.get(account, 0) - amount
    if taken != {pool: total} or given != expected:
        wrong = sorted(a for a in set(given) | set(expected) if given.get(a) != expected.get(a))
        raise DividendError(
            f"dividend {tx_id}: postings do not pay {total} out of {pool} as "
            f"allocate(leases, persons) does; first account that differs: "
            f"{(wrong or [pool])[0]}",
            tx_id=tx_id,
        )


def source_refs(meta: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """(transaction id, leaf hash) of each source a checked dividend restates."""
    return [(s["id"], leaf_hash(canonical_json(s))) for s in meta["sources"]]


def check_sources(
    dividends: Iterable[tuple[int, list[tuple[str, bytes]]]],
    tx_ids: Mapping[str, int],
    tree: MerkleTree,
) -> tuple[int, str] | None:
    """In log order: each source of each dividend is an earlier entry of the log with the
    very leaf hash restated, and no source pays into two dividends. The first dividend that
    breaks a rule and why, or None."""
    used: dict[str, int] = {}
    for index, refs in dividends:
        for tx_id, hashed in refs:
            at = tx_ids.get(tx_id)
            if at is None or at >= index:
                return index, f"dividend source {tx_id} is not an earlier entry of the log"
            if at >= tree.size or tree.leaf_hash_at(at) != hashed:
                return index, (
                    f"dividend source {tx_id} is restated otherwise than entry {at} of the log"
                )
            if tx_id in used:
                return index, (
                    f"dividend source {tx_id} was already paid out by the dividend at entry "
                    f"{used[tx_id]}"
                )
            used[tx_id] = index
    return None
