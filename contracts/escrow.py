"""Escrow rules over a sequence of balanced transactions, checked in log order.

Double entry and exact splits hold per transaction (:func:`contracts.ledger.check_postings`);
these rules need the history: money leaves escrow only for the lease that put it
there. For each lease and currency the payments put money in; splits and refunds out
of escrow take it out and may not take more than is left; refunds (out of escrow or
taken back from the parties after the split) may not return more than was paid.
Escrow as a whole never goes negative, whatever kind of transaction moves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from contracts.ledger import ESCROW, PostingTuple

LEASE_KINDS = frozenset({"payment", "split", "refund"})
Key = tuple[str, str]  # (lease id, currency)
Flows = dict[str, int]  # currency -> amount


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
    """What each lease paid, still holds in escrow and had refunded, per currency."""

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
        self, money: Iterable[tuple[int, Any, Any, Flows, Flows]], stop: int | None = None
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
