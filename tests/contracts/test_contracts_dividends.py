"""Data-subject dividends: each lease's subject-pool share is split exactly among the persons
of its release, and the offline verifier recomputes every part and ties each dividend to
the split and refund entries that filled the pool, paid out once."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import Ledger, payment, refund_from_shares, split_from_escrow, verify_export
from contracts.canonical import canonical_json
from contracts.dividends import allocate, check_dividend, dividend, subject_account
from contracts.errors import DividendError
from contracts.ledger import PLATFORM, provider_account, subject_pool_account
from tests.contracts.contracts_samples import T0

POOL = subject_pool_account("ds-bus")
SHARES = {provider_account("edu"): 8500, PLATFORM: 1000, POOL: 500}


@pytest.fixture
def public_key(signing_key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return signing_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def persons(n: int, seed: int = 0) -> list[str]:
    """``n`` sorted pseudonyms (zero-padded hex sorts as the numbers do)."""
    values = np.unique(np.random.default_rng(seed).integers(0, 2**62, n))
    return [f"{v:032x}" for v in values.tolist()]


def lease_sources(log: Ledger, lease: str, price: int) -> list[dict]:
    """Pay and split a lease; the split entry, as the log holds it."""
    log.append_transaction(payment("bus-co", price, time=T0, lease_id=lease))
    index = log.append_transaction(split_from_escrow(price, SHARES, time=T0, lease_id=lease))
    return [log.entry(index)]


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_parts_sum_exactly_and_differ_by_at_most_one_fen_per_lease(n: int) -> None:
    rng = np.random.default_rng(n)
    amounts = {f"L{i}": int(a) for i, a in enumerate(rng.integers(0, 5_000, 40))}
    who = persons(n) if n > 2 else [f"p{i}" for i in range(n)]
    parts = allocate(amounts, who)
    assert int(parts.sum()) == sum(amounts.values())
    floor = sum(a // len(who) for a in amounts.values())
    assert parts.min() >= floor and parts.max() <= floor + len(amounts)
    for lease, amount in amounts.items():  # one lease alone: floor or floor + 1 each
        alone = allocate({lease: amount}, who)
        assert set(alone.tolist()) <= {amount // len(who), amount // len(who) + 1}


def test_persons_must_be_sorted_and_distinct() -> None:
    with pytest.raises(DividendError, match="sorted and each listed once"):
        allocate({"L1": 10}, ["b", "a"])
    with pytest.raises(DividendError, match="at least one person"):
        allocate({"L1": 10}, [])


def test_a_thousand_leases_and_a_hundred_thousand_subjects_sum_exactly_and_verify(
    signing_key: Ed25519PrivateKey, public_key: bytes
) -> None:
    everyone = persons(100_000, seed=1)
    rng = np.random.default_rng(2)
    releases = {  # two releases of the dataset: everyone, then fewer after withdrawals
        f"rel{r}": [
            everyone[i] for i in np.sort(rng.choice(len(everyone), int(1e5 * share), False))
        ]
        for r, share in enumerate((1.0, 0.3))
    }
    log = Ledger()
    by_release: dict[str, list[dict]] = {r: [] for r in releases}
    pool_in = 0
    for lease in range(1_000):
        price = int(rng.integers(10_000, 5_000_000))
        release = f"rel{lease % 2}"
        by_release[release] += lease_sources(log, f"L{lease}", price)
        if lease % 97 == 0:  # a revoked lease gives part back, the pool's part too
            back = price // 3
            tx = refund_from_shares("bus-co", back, SHARES, time=T0, lease_id=f"L{lease}")
            by_release[release].append(log.entry(log.append_transaction(tx)))
    pool_in = log.balances()[POOL]
    for release, sources in by_release.items():
        log.append_transaction(dividend(POOL, release, releases[release], sources, time=T0))
    balances = log.balances()
    assert balances[POOL] == 0  # every fen of the pool went out
    paid = {a: v for a, v in balances.items() if a.startswith("subject:")}
    assert sum(paid.values()) == pool_in
    assert len(paid) == 100_000
    report = verify_export(list(log.export_lines(signing_key, now=T0)), public_key)
    assert report.ok, report.reason
    assert sum(v for a, v in report.balances.items() if a.startswith("subject:")) == pool_in


def _small_log() -> tuple[Ledger, list[dict], list[str]]:
    log = Ledger()
    sources = lease_sources(log, "L1", 100_003) + lease_sources(log, "L2", 77_777)
    return log, sources, persons(13)


def _resigned(log: Ledger, signing_key: Ed25519PrivateKey) -> list[str]:
    return list(Ledger(log.store).export_lines(signing_key, now=T0))


def _shift_a_fen(entry: dict) -> None:
    credits = [p for p in entry["postings"] if p["amount_minor"] > 0]
    credits[0]["amount_minor"] -= 1
    credits[1]["amount_minor"] += 1


def _inflate_a_source(entry: dict) -> None:
    # The restated split credits the pool more than the logged one did; the postings and
    # amounts are made to agree with it, so only the log can tell.
    source = entry["meta"]["sources"][0]
    for posting in source["postings"]:
        if posting["account"] == POOL:
            posting["amount_minor"] += 50
        if posting["account"] == provider_account("edu"):
            posting["amount_minor"] -= 50


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_shift_a_fen, "postings do not pay 8889 out of subject-pool:ds-bus"),
        (lambda e: e["meta"]["leases"].update(L1=9000), "are not what their sources left"),
        (lambda e: e["meta"].update(persons=e["meta"]["persons"][33:]), "postings do not pay"),
    ],
)
def test_a_dividend_that_does_not_pay_the_exact_parts_is_named(
    signing_key: Ed25519PrivateKey, public_key: bytes, tamper: Callable[[dict], None], message: str
) -> None:
    log, sources, who = _small_log()
    entry = dividend(POOL, "rel1", who, sources, time=T0).to_entry()
    tamper(entry)
    with pytest.raises(DividendError):
        check_dividend(entry["id"], [tuple(p.values()) for p in entry["postings"]], entry["meta"])
    log.store.append(canonical_json(entry))  # the operator bypasses append_transaction
    report = verify_export(_resigned(log, signing_key), public_key)
    assert report.first_failing_index == 4
    assert message in report.reason


def test_a_dividend_of_forged_sources_or_paid_twice_is_named(
    signing_key: Ed25519PrivateKey, public_key: bytes
) -> None:
    log, sources, who = _small_log()
    forged = json.loads(json.dumps(sources))
    _inflate_a_source({"meta": {"sources": forged}})
    log.append_transaction(dividend(POOL, "rel1", who, forged, time=T0))
    report = verify_export(_resigned(log, signing_key), public_key)
    assert report.first_failing_index == 4
    assert f"dividend source {forged[0]['id']} is restated otherwise than entry 1" in report.reason

    log, sources, who = _small_log()
    log.append_transaction(dividend(POOL, "rel1", who, sources, time=T0))
    log.append_transaction(dividend(POOL, "rel1", who[:5], sources[:1], time=T0))
    report = verify_export(_resigned(log, signing_key), public_key)
    assert report.first_failing_index == 5
    assert "was already paid out by the dividend at entry 4" in report.reason

    log, sources, who = _small_log()
    later = dividend(POOL, "rel1", who, sources, time=T0)
    first = Ledger()
    first.append_transaction(later)  # a dividend before the splits it claims to pay out
    for source in sources:
        first.store.append(canonical_json(source))
    report = verify_export(_resigned(first, signing_key), public_key)
    assert report.first_failing_index == 0
    assert "is not an earlier entry of the log" in report.reason


def test_subject_accounts_are_named_by_pseudonym() -> None:
    assert subject_account("ab12") == "subject:ab12"
    with pytest.raises(DividendError):
        subject_account("a:b")
