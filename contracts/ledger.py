"""Double-entry money: accounts, postings and balanced transactions.

Every amount is an int of minor units (fen). A transaction has two or more
postings that sum to zero in each currency; a split out of escrow must equal
``revenue.split(amount, shares_bp)`` to the fen. Both invariants are enforced
here, in :func:`check_postings`, which the offline verifier calls as well.

Sign convention: a positive balance is money the exchange holds for, or owes to,
the account holder. A payment moves money from the buyer into escrow (the buyer's
balance goes negative: what it has paid in), a split moves it from escrow to the
parties, a refund from escrow back to the buyer, a payout from a party to
``payouts`` (money that has left the exchange).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from contracts.canonical import canonical_json
from contracts.errors import InvalidEntry, SplitError, UnbalancedTransaction
from contracts.revenue import split
from contracts.utc import format_utc, parse_utc, require_utc

DEFAULT_CURRENCY = "CNY"
ESCROW = "escrow"
PLATFORM = "platform"
PAYOUTS = "payouts"
KINDS = ("payment", "split", "refund", "payout", "dividend")
TRANSACTION_TYPE = "transaction"

PostingTuple = tuple[str, int, str]


def buyer_account(buyer_id: str) -> str:
    """The account of a buyer: ``buyer:<id>``."""
    return _named("buyer", buyer_id)


def provider_account(provider_id: str) -> str:
    """The account of a data provider: ``provider:<id>``."""
    return _named("provider", provider_id)


def party_account(party_id: str) -> str:
    """Any other party of a sharing contract, e.g. a district data center: ``party:<id>``."""
    return _named("party", party_id)


def subject_pool_account(pool_id: str = "default") -> str:
    """A data-subject dividend pool: ``subject-pool:<id>``."""
    return _named("subject-pool", pool_id)


def _named(prefix: str, name: str) -> str:
    if not isinstance(name, str) or not name or ":" in name:
        raise InvalidEntry(f"{prefix} id must be a non-empty string without ':'; got {name!r}")
    return f"{prefix}:{name}"


@dataclass(frozen=True)
class Posting:
    """One leg of a transaction: ``amount_minor`` (signed) to ``account``."""

    account: str
    amount_minor: int
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        _check_posting(self.account, self.amount_minor, self.currency)

    def as_tuple(self) -> PostingTuple:
        return (self.account, self.amount_minor, self.currency)


@dataclass(frozen=True)
class Transaction:
    """An immutable, balanced set of postings; a correction is a new transaction."""

    id: str
    kind: str
    time: datetime
    postings: tuple[Posting, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidEntry(f"transaction id must be a non-empty string; got {self.id!r}")
        object.__setattr__(self, "time", require_utc(self.time, f"time of {self.id}"))
        object.__setattr__(self, "postings", tuple(self.postings))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))
        check_postings(self.id, self.kind, [p.as_tuple() for p in self.postings], self.meta)
        canonical_json(dict(self.meta))  # meta is hashed: refuse floats now, not at append

    @classmethod
    def create(
        cls,
        kind: str,
        time: datetime,
        postings: Iterable[Posting],
        meta: Mapping[str, Any] | None = None,
        *,
        tx_id: str | None = None,
    ) -> Transaction:
        """Build a transaction; without ``tx_id`` the id is derived from its content."""
        postings = tuple(postings)
        meta = dict(meta or {})
        if tx_id is None:
            body = _entry(kind, time, postings, meta)
            tx_id = "tx-" + hashlib.sha256(canonical_json(body)).hexdigest()[:32]
        return cls(id=tx_id, kind=kind, time=time, postings=postings, meta=meta)

    def to_entry(self) -> dict[str, Any]:
        """The dict whose canonical JSON is this transaction's ledger leaf."""
        entry = _entry(self.kind, self.time, self.postings, dict(self.meta))
        entry["id"] = self.id
        return entry

    def leaf(self) -> bytes:
        """The canonical JSON bytes appended to the Merkle tree."""
        return canonical_json(self.to_entry())

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Transaction:
        """Read back a transaction from its leaf dict (checks every invariant again)."""
        if entry.get("type") != TRANSACTION_TYPE:
            raise InvalidEntry(f"entry type is {entry.get('type')!r}, not 'transaction'")
        postings = [Posting(*p) for p in postings_from_entry(entry.get("postings"))]
        return cls(
            id=entry.get("id"),
            kind=entry.get("kind"),
            time=parse_utc(entry.get("time"), "transaction time"),
            postings=tuple(postings),
            meta=entry.get("meta") or {},
        )


def _entry(
    kind: str, time: datetime, postings: Iterable[Posting], meta: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": TRANSACTION_TYPE,
        "kind": kind,
        "time": format_utc(time),
        "postings": [
            {"account": p.account, "amount_minor": p.amount_minor, "currency": p.currency}
            for p in postings
        ],
        "meta": meta,
    }


def _check_posting(account: Any, amount: Any, currency: Any) -> None:
    if not isinstance(account, str) or not account:
        raise InvalidEntry(f"posting account must be a non-empty string; got {account!r}")
    if type(amount) is not int or amount == 0:
        raise InvalidEntry(
            f"posting to {account!r} must be a non-zero int of minor units; got {amount!r}",
            account=account,
        )
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
        raise InvalidEntry(f"currency must be an ISO 4217 code such as 'CNY'; got {currency!r}")


def postings_from_entry(raw: Any) -> list[PostingTuple]:
    """Turn the JSON ``postings`` list of a leaf into checked (account, amount, currency)."""
    if type(raw) is not list:
        raise InvalidEntry(f"postings must be a list; got {type(raw).__name__}")
    result: list[PostingTuple] = []
    for posting in raw:
        if type(posting) is not dict or len(posting) != 3:
            raise InvalidEntry(f"a posting has account, amount_minor, currency; got {posting!r}")
        item = (posting.get("account"), posting.get("amount_minor"), posting.get("currency"))
        account, amount, currency = item
        # The common case is checked inline (this runs once per posting in an audit);
        # anything unusual goes through _check_posting for the precise error.
        if (
            type(account) is not str
            or not account
            or type(amount) is not int
            or not amount
            or type(currency) is not str
            or len(currency) != 3
            or not currency.isupper()
        ):
            _check_posting(*item)
        result.append(item)
    return result


def check_postings(
    tx_id: str, kind: Any, postings: list[PostingTuple], meta: Mapping[str, Any]
) -> None:
    """The double-entry invariants: known kind, two or more postings, zero sum per currency,
    and splits (and refunds clawed back from the parties) equal to ``split(amount, shares_bp)``."""
    if kind not in KINDS:
        raise InvalidEntry(f"transaction {tx_id}: kind must be one of {KINDS}; got {kind!r}")
    if len(postings) < 2:
        raise InvalidEntry(f"transaction {tx_id}: needs two or more postings, has {len(postings)}")
    totals: dict[str, int] = {}
    for _, amount, currency in postings:
        totals[currency] = totals.get(currency, 0) + amount
    off = {currency: total for currency, total in totals.items() if total}
    if off:
        raise UnbalancedTransaction(
            f"transaction {tx_id}: postings do not sum to zero: {off}", tx_id=tx_id, totals=off
        )
    if kind == "split":
        check_split(tx_id, postings, meta)
    elif kind == "refund" and "shares_bp" in meta:
        check_clawback(tx_id, postings, meta)
    elif kind == "dividend":
        # Imported here: the dividends module builds its transactions with this one's types.
        from contracts.dividends import check_dividend

        check_dividend(tx_id, postings, meta)


def check_split(tx_id: str, postings: list[PostingTuple], meta: Mapping[str, Any]) -> None:
    """A split debits escrow by ``meta['amount_minor']`` and credits exactly the split parts."""
    amount, expected = _expected_parts(tx_id, meta)
    taken, given = _flows(postings)
    if taken != {ESCROW: amount} or given != expected:
        raise SplitError(
            f"split {tx_id}: postings {sorted(given.items())} debiting {sorted(taken.items())} "
            f"do not equal split({amount}, shares_bp) = {sorted(expected.items())} out of escrow",
            tx_id=tx_id,
        )


def check_clawback(tx_id: str, postings: list[PostingTuple], meta: Mapping[str, Any]) -> None:
    """A refund taken back from the parties debits each exactly its split part of the amount
    and credits the whole amount to one account (the buyer)."""
    amount, expected = _expected_parts(tx_id, meta)
    taken, given = _flows(postings)
    if taken != expected or list(given.values()) != [amount]:
        raise SplitError(
            f"refund {tx_id}: debits {sorted(taken.items())} crediting {sorted(given.items())} "
            f"do not equal split({amount}, shares_bp) = {sorted(expected.items())} "
            "paid back to one account",
            tx_id=tx_id,
        )


def _expected_parts(tx_id: str, meta: Mapping[str, Any]) -> tuple[Any, dict[str, int]]:
    amount, shares = meta.get("amount_minor"), meta.get("shares_bp")
    if not isinstance(shares, Mapping):
        raise SplitError(f"transaction {tx_id}: meta must hold shares_bp", tx_id=tx_id)
    return amount, {party: part for party, part in split(amount, dict(shares)).items() if part}


def _flows(postings: list[PostingTuple]) -> tuple[dict[str, int], dict[str, int]]:
    """Amounts taken from (debited) and given to (credited) each account."""
    taken: dict[str, int] = {}
    given: dict[str, int] = {}
    for account, value, _ in postings:
        side = given if value > 0 else taken
        side[account] = side.get(account, 0) + abs(value)
    return taken, given


def payment(
    buyer_id: str,
    amount_minor: int,
    *,
    time: datetime,
    lease_id: str,
    currency: str = DEFAULT_CURRENCY,
    meta: Mapping[str, Any] | None = None,
    tx_id: str | None = None,
) -> Transaction:
    """The buyer pays ``amount_minor`` for a lease into escrow."""
    return _transfer(
        "payment", buyer_account(buyer_id), ESCROW, amount_minor, time, currency,
        {"lease_id": lease_id, **(meta or {})}, tx_id,
    )  # fmt: skip


def split_from_escrow(
    amount_minor: int,
    shares_bp: Mapping[str, int],
    *,
    time: datetime,
    lease_id: str,
    currency: str = DEFAULT_CURRENCY,
    meta: Mapping[str, Any] | None = None,
    tx_id: str | None = None,
) -> Transaction:
    """Pay ``amount_minor`` out of escrow to the accounts named in ``shares_bp``."""
    return _shared(
        "split", ESCROW, amount_minor, shares_bp, 1, time, currency,
        {"lease_id": lease_id, **(meta or {})}, tx_id,
    )  # fmt: skip


def refund(
    buyer_id: str,
    amount_minor: int,
    *,
    time: datetime,
    lease_id: str,
    currency: str = DEFAULT_CURRENCY,
    meta: Mapping[str, Any] | None = None,
    tx_id: str | None = None,
) -> Transaction:
    """Return ``amount_minor`` from escrow to the buyer (a lease refused or cancelled)."""
    return _transfer(
        "refund", ESCROW, buyer_account(buyer_id), amount_minor, time, currency,
        {"lease_id": lease_id, **(meta or {})}, tx_id,
    )  # fmt: skip


def refund_from_shares(
    buyer_id: str,
    amount_minor: int,
    shares_bp: Mapping[str, int],
    *,
    time: datetime,
    lease_id: str,
    currency: str = DEFAULT_CURRENCY,
    meta: Mapping[str, Any] | None = None,
    tx_id: str | None = None,
) -> Transaction:
    """Refund a buyer after the split: each party gives back its exact share of the amount."""
    return _shared(
        "refund", buyer_account(buyer_id), amount_minor, shares_bp, -1, time, currency,
        {"lease_id": lease_id, **(meta or {})}, tx_id,
    )  # fmt: skip


def _shared(
    kind: str,
    counterpart: str,
    amount_minor: int,
    shares_bp: Mapping[str, int],
    sign: int,
    time: datetime,
    currency: str,
    meta: dict[str, Any],
    tx_id: str | None,
) -> Transaction:
    """Move ``amount_minor`` between one account and the parties of a split: ``sign`` 1
    pays the parties from ``counterpart``, -1 takes their parts back to it."""
    _positive(amount_minor, kind)
    parts = split(amount_minor, dict(shares_bp))
    postings = [Posting(counterpart, -sign * amount_minor, currency)]
    postings += [Posting(account, sign * part, currency) for account, part in parts.items() if part]
    meta.update(amount_minor=amount_minor, shares_bp=dict(shares_bp))
    return Transaction.create(kind, time, postings, meta, tx_id=tx_id)


def payout(
    account: str,
    amount_minor: int,
    *,
    time: datetime,
    reference: str,
    currency: str = DEFAULT_CURRENCY,
    meta: Mapping[str, Any] | None = None,
    tx_id: str | None = None,
) -> Transaction:
    """Pay a party's earned balance out of the exchange (``reference``: the bank transfer)."""
    return _transfer(
        "payout", account, PAYOUTS, amount_minor, time, currency,
        {"reference": reference, **(meta or {})}, tx_id,
    )  # fmt: skip


def _transfer(
    kind: str,
    source: str,
    destination: str,
    amount_minor: int,
    time: datetime,
    currency: str,
    meta: dict[str, Any],
    tx_id: str | None,
) -> Transaction:
    """A two-posting transaction moving ``amount_minor`` from source to destination."""
    _positive(amount_minor, kind)
    postings = (
        Posting(source, -amount_minor, currency),
        Posting(destination, amount_minor, currency),
    )
    return Transaction.create(kind, time, postings, meta, tx_id=tx_id)


def _positive(amount_minor: Any, what: str) -> None:
    if type(amount_minor) is not int or amount_minor <= 0:
        raise InvalidEntry(
            f"{what} amount must be a positive int of minor units; got {amount_minor!r}"
        )
