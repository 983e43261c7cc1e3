"""Minors' data: under PIPL, personal information of children under 14 is sensitive. A
dataset that holds it records the guardians' consent it rests on, and every release of it
needs at least ``minors_min_k`` persons per class and releases no raw value: each column
is dropped, pseudonymised per lease, generalized, suppressed or noised (DP)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from desensitize import Policy
from exchange.context import Exchange
from exchange.db.models import Account, Dataset
from exchange.errors import Conflict, Invalid

# Rules whose output carries no raw value of the child: pseudonyms keyed per lease, coarser
# values, and noise. "keep" and "mask" (which keeps raw characters) are not among them.
RELEASABLE_RULES = frozenset(
    {"token", "fake", "generalize", "suppress", "top_bottom_code", "noise"}
)


def declare(
    session: Session, exchange: Exchange, provider: Account, dataset: Dataset, basis: str | None
) -> Dataset:
    """Record (or, with None, clear) that the dataset holds minors' data, and on which
    guardians' consent."""
    if basis is not None and not basis.strip():
        raise Invalid("basis must name the guardians' consent the data rests on")
    dataset.minors_basis = basis.strip()[:2000] if basis else None
    exchange.log.record(
        session,
        "minors_declared",
        actor=provider.id,
        dataset=dataset.id,
        minors=dataset.minors_basis is not None,
        basis=(dataset.minors_basis or "")[:200],
    )
    return dataset


def check_release(exchange: Exchange, dataset: Dataset, policy: Policy) -> None:
    """Refuse a release of minors' data below the minimum k or with raw values."""
    if dataset.minors_basis is None:
        return
    least = exchange.settings.minors_min_k
    if (policy.k or 1) < least:
        raise Conflict(
            f"dataset {dataset.id} holds minors' data: its releases need k of at least "
            f"{least}; the policy has k={policy.k or 1}",
            code="minors_k",
        )
    raw = [
        c.name for c in policy.columns if c.rule is not None and c.rule.name not in RELEASABLE_RULES
    ]
    if raw:
        raise Conflict(
            f"dataset {dataset.id} holds minors' data, released only generalized, "
            f"pseudonymised or noised; {', '.join(raw)} would be released as raw values: "
            "generalize, token, noise or drop them",
            code="minors_raw_values",
        )
