"""Revenue shares in basis points and exact splits by the largest-remainder method.

A payment of ``amount_minor`` fen split by shares that sum to 10,000 basis points
gives each party ``floor(amount * bp / 10000)``; the few fen left over go one each
to the parties with the largest remainders (ties: larger share, then name), so the
parts always sum to the amount and the result never depends on dict order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from contracts.errors import SplitError

TOTAL_BP = 10_000


def check_shares(shares_bp: Mapping[str, int]) -> None:
    """Raise SplitError unless the shares are named, non-negative and sum to 10,000 bp."""
    if not isinstance(shares_bp, Mapping) or not shares_bp:
        raise SplitError("shares_bp must be a non-empty mapping of party -> basis points")
    for party, bp in shares_bp.items():
        if type(bp) is not int or bp < 0 or type(party) is not str or not party:
            _refuse_share(party, bp)
    total = sum(shares_bp.values())
    if total != TOTAL_BP:
        raise SplitError(
            f"shares must sum to {TOTAL_BP} basis points; they sum to {total}",
            total_bp=total,
        )


def _refuse_share(party: object, bp: object) -> None:
    if not isinstance(party, str) or not party:
        raise SplitError(f"party names must be non-empty strings; got {party!r}")
    raise SplitError(
        f"share of {party!r} must be a non-negative int of basis points; got {bp!r}",
        party=party,
    )


def split(amount_minor: int, shares_bp: dict[str, int]) -> dict[str, int]:
    """Split ``amount_minor`` exactly by basis points; the parts sum to the amount."""
    if type(amount_minor) is not int or amount_minor < 0:
        raise SplitError(
            f"amount_minor must be a non-negative int of minor units; got {amount_minor!r}",
            amount_minor=amount_minor,
        )
    check_shares(shares_bp)
    parts: dict[str, int] = {}
    remainders: list[tuple[int, int, str]] = []
    for party, bp in shares_bp.items():
        parts[party], remainder = divmod(amount_minor * bp, TOTAL_BP)
        remainders.append((-remainder, -bp, party))
    leftover = amount_minor - sum(parts.values())
    remainders.sort()
    for _, _, party in remainders[:leftover]:
        parts[party] += 1
    return parts


@dataclass(frozen=True)
class SharingContract:
    """Who shares a lease's revenue, in basis points, e.g. provider, district, platform, pool."""

    id: str
    shares_bp: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_shares(self.shares_bp)
        object.__setattr__(self, "shares_bp", MappingProxyType(dict(self.shares_bp)))

    def split(self, amount_minor: int) -> dict[str, int]:
        """The exact parts of ``amount_minor`` for each party."""
        return split(amount_minor, dict(self.shares_bp))
