"""Escrow rules over a sequence of balanced transactions, checked in log order.

Double entry and exact splits hold per transaction (:func:`contracts.ledger.check_postings`);
these rules need the history: money leaves escrow only for the lease that put it
there. For each lease and currency the payments put money in; splits and refunds out
of escrow take it out and may not take more than is left; refunds (out of escrow or
taken back from the parties after the split) may not return more than was paid.
Escrow as a whole never goes negative, whatever kind of transaction moves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np

from contracts.ledger import ESCROW, KINDS, PostingTuple

LEASE_KINDS = frozenset({"payment", "split", "refund"})
Key = tuple[str, str]  # (lease id, currency)
Flows = dict[str, int]  # currency -> amount
Money = tuple[int, Any, Any, Flows, Flows]  # entry, kind, lease, escrow moves, credits


def escrow_flows(postings: list[PostingTuple]) -> tuple[Flows, Flows]:
    """What a transaction does to escrow, per currency, and what it credits to any other
    account: all the escrow rules need of its postings."""
    moves: Flows = {}
    credited: Flows = {}
    for account, amount, currency in postings:
        if account == ESCROW:
            moves[currency] = moves.get(currency, 0) + amount
        elif amount > 0:
            credited[currency] = credited.get(currency, 0) + amount
    return moves, credited


class EscrowBook:
    """What each lease paid, still holds in escrow and had refunded, per currency.

    :meth:`FlowColumns.rules_hold` states the same rules as running sums for a whole
    ledger at once: a rule added here must be added there."""

    def __init__(self) -> None:
        self.paid: dict[Key, int] = {}
        self.held: dict[Key, int] = {}
        self.refunded: dict[Key, int] = {}
        self.escrow: dict[str, int] = {}

    def apply(self, kind: Any, postings: list[PostingTuple], meta: Mapping[str, Any]) -> str | None:
        """Take in the next transaction; return why it breaks a rule, or None."""
        lease = meta.get("lease_id") if kind in LEASE_KINDS else None
        return self.apply_flows(kind, lease, *escrow_flows(postings))

    def check_in_order(
        self, money: Iterable[Money], stop: int | None = None
    ) -> tuple[int, str] | None:
        """:meth:`apply_flows` for (entry, kind, lease, moves, credited) in log order, before
        entry ``stop``; the first entry that breaks a rule and why, or None.

        A payment into escrow and a split out of it that leaves both its lease and escrow
        at or above zero (nearly every entry) are taken in place; the rest go through
        :meth:`apply_flows`."""
        paid, held, escrow = self.paid, self.held, self.escrow
        for index, kind, lease, moves, credited in money:
            if stop is not None and index >= stop:
                return None
            if len(moves) == 1 and type(lease) is str and lease:
                ((currency, change),) = moves.items()
                key = (lease, currency)
                if kind == "payment" and change > 0:
                    paid[key] = paid.get(key, 0) + change
                    held[key] = held.get(key, 0) + change
                    escrow[currency] = escrow.get(currency, 0) + change
                    continue
                if kind == "split" and change < 0:
                    left = held.get(key, 0) + change
                    balance = escrow.get(currency, 0) + change
                    if left >= 0 and balance >= 0:
                        held[key] = left
                        escrow[currency] = balance
                        continue
            problem = self.apply_flows(kind, lease, moves, credited)
            if problem:
                return index, problem
        return None

    def apply_flows(self, kind: Any, lease: Any, moves: Flows, credited: Flows) -> str | None:
        """:meth:`apply` for a transaction given by its :func:`escrow_flows` and lease."""
        if kind in LEASE_KINDS:
            problem = self._lease_rules(kind, lease, moves, credited)
            if problem:
                return problem
        for currency, change in moves.items():
            balance = self.escrow.get(currency, 0) + change
            self.escrow[currency] = balance
            if balance < 0:
                return f"escrow goes negative ({balance} {currency})"
        return None

    def _lease_rules(
        self, kind: str, lease: Any, moves: dict[str, int], credited: dict[str, int]
    ) -> str | None:
        if type(lease) is not str or not lease:
            return f"a {kind} must name its lease in meta.lease_id; got {lease!r}"
        if kind == "payment":
            for currency, change in moves.items():
                if change > 0:
                    key = (lease, currency)
                    self.paid[key] = self.paid.get(key, 0) + change
                    self.held[key] = self.held.get(key, 0) + change
            return None
        if kind == "refund":
            for currency, amount in credited.items():
                key = (lease, currency)
                paid, before = self.paid.get(key, 0), self.refunded.get(key, 0)
                if before + amount > paid:
                    return (
                        f"a refund of {amount} {currency} for lease {lease} exceeds what was "
                        f"paid for it ({paid} paid, {before} refunded before)"
                    )
                self.refunded[key] = before + amount
        for currency, change in moves.items():  # splits, and refunds straight from escrow
            if change >= 0:
                continue
            key = (lease, currency)
            held, paid = self.held.get(key, 0), self.paid.get(key, 0)
            if -change > held:
                if not paid:
                    return (
                        f"a {kind} of {-change} {currency} out of escrow has no payment "
                        f"of lease {lease} behind it"
                    )
                return (
                    f"a {kind} of {-change} {currency} out of escrow exceeds what lease "
                    f"{lease} has left there ({paid} paid, {paid - held} already paid out)"
                )
            self.held[key] = held + change
        return None


# Kinds as FlowColumns codes (0 for none of them); only the lease kinds have rules of their
# own, the others only move escrow.
OTHER = 0
KIND_CODES = {kind: code for code, kind in enumerate(KINDS, 1)}
PAYMENT, SPLIT, REFUND = (KIND_CODES[kind] for kind in ("payment", "split", "refund"))
_LIMIT = 1 << 62  # amounts beyond this are left to the exact check (int64 sums)


@dataclass
class FlowColumns:
    """Escrow flows as columns: one row per transaction and currency it moves or credits,
    each with its entry, kind code, lease (``""`` for other kinds) and int64 amounts."""

    entries: Any
    kinds: Any
    leases: list[str]
    currencies: list[str]
    moves: Any
    credits: Any

    @classmethod
    def from_money(cls, money: Iterable[Money]) -> FlowColumns | None:
        """The rows of (entry, kind, lease, moves, credited) tuples; None when one of them
        could not break a rule the way the columns model it (no lease, huge amounts)."""
        rows: list[tuple[int, int, str, str, int, int]] = []
        for index, kind, lease, moves, credited in money:
            code = KIND_CODES.get(kind, OTHER) if type(kind) is str else OTHER
            leased = type(kind) is str and kind in LEASE_KINDS
            if leased and (type(lease) is not str or not lease):
                return None
            for currency in dict.fromkeys(chain(moves, credited)):
                move, credit = moves.get(currency, 0), credited.get(currency, 0)
                if not (-_LIMIT < move < _LIMIT and 0 <= credit < _LIMIT):
                    return None
                rows.append((index, code, lease if leased else "", currency, move, credit))
        columns = list(zip(*rows, strict=True)) or [(), (), (), (), (), ()]
        return cls(
            np.array(columns[0], np.int64),
            np.array(columns[1], np.int8),
            list(columns[2]),
            list(columns[3]),
            np.array(columns[4], np.int64),
            np.array(columns[5], np.int64),
        )

    @classmethod
    def joined(cls, parts: list[FlowColumns]) -> FlowColumns:
        return cls(
            np.concatenate([p.entries for p in parts] or [np.zeros(0, np.int64)]),
            np.concatenate([p.kinds for p in parts] or [np.zeros(0, np.int8)]),
            [lease for p in parts for lease in p.leases],
            [currency for p in parts for currency in p.currencies],
            np.concatenate([p.moves for p in parts] or [np.zeros(0, np.int64)]),
            np.concatenate([p.credits for p in parts] or [np.zeros(0, np.int64)]),
        )

    def money(self) -> Iterator[Money]:
        """The rows as (entry, kind, lease, moves, credited), a transaction's rows in one."""
        names: dict[int, Any] = {code: kind for kind, code in KIND_CODES.items()}
        rows = zip(
            self.entries.tolist(),
            self.kinds.tolist(),
            self.leases,
            self.currencies,
            self.moves.tolist(),
            self.credits.tolist(),
            strict=True,
        )
        last: Money | None = None
        for index, code, lease, currency, move, credit in rows:
            if last is None or last[0] != index:
                if last is not None:
                    yield last
                last = (index, names.get(code), lease or None, {}, {})
            if move:
                last[3][currency] = move
            if credit:
                last[4][currency] = credit
        if last is not None:
            yield last

    def rules_hold(self) -> bool:
        """Whether, in entry order, every rule of :class:`EscrowBook` holds: escrow per
        currency, and per lease and currency what is held and what may still be refunded,
        never fall below zero. False also when int64 running sums might overflow."""
        count = len(self.entries)
        if not count:
            return True
        largest = max([int(np.abs(self.moves).max(initial=0)), int(self.credits.max(initial=0))])
        if largest * (count + 1) >= _LIMIT:
            return False
        order = np.argsort(self.entries, kind="stable")
        kinds, moves, credits = self.kinds[order], self.moves[order], self.credits[order]
        if self.currencies.count(self.currencies[0]) == count:  # one currency, as a rule
            currency = np.zeros(count, np.int64)
        else:
            currency = _codes(self.currencies)[order]
        key = _codes(self.leases)[order] * (int(currency.max(initial=0)) + 1) + currency
        paid = np.where((kinds == PAYMENT) & (moves > 0), moves, 0)
        taken = np.where(((kinds == SPLIT) | (kinds == REFUND)) & (moves < 0), moves, 0)
        refunded = np.where(kinds == REFUND, credits, 0)
        return (
            _running_sums_stay_nonnegative(currency, moves)
            and _running_sums_stay_nonnegative(key, paid + taken)
            and _running_sums_stay_nonnegative(key, paid - refunded)
        )


def check_in_log_order(
    money: list[Money], columns: list[FlowColumns], stop: int | None = None
) -> tuple[int, str] | None:
    """:meth:`EscrowBook.check_in_order` over transactions given as tuples and as columns,
    in entry order, before entry ``stop``. When the columns show every rule holding, the
    transactions are not taken one by one; otherwise they are, for the first that fails."""
    if stop is None:
        extra = FlowColumns.from_money(money)
        if extra is not None and FlowColumns.joined([*columns, extra]).rules_hold():
            return None
    ordered = sorted(chain(money, *(part.money() for part in columns)), key=itemgetter(0))
    return EscrowBook().check_in_order(ordered, stop)


def _codes(values: list[str]) -> Any:
    """An int64 code per value, equal values equal codes."""
    index = {value: code for code, value in enumerate(dict.fromkeys(values))}
    return np.fromiter(map(index.__getitem__, values), np.int64, len(values))


def _running_sums_stay_nonnegative(groups: Any, values: Any) -> bool:
    """Whether within each group the running sum of ``values`` (in the order given) stays
    at or above zero."""
    nonzero = values != 0
    groups, values = groups[nonzero], values[nonzero]
    if not len(values):
        return True
    order = np.argsort(groups, kind="stable")
    groups, sums = groups[order], np.cumsum(values[order])
    starts = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    before = np.zeros(len(starts) + 1, np.int64)
    before[1:] = sums[starts - 1]
    group = np.zeros(len(sums), np.int64)
    group[starts] = 1
    return bool((sums - before[np.cumsum(group)] >= 0).all())
