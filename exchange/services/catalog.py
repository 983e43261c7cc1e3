"""Catalog entries: what a buyer sees before asking for a lease. Never raw values."""

from __future__ import annotations

from typing import Any

from exchange.context import Exchange
from exchange.db.models import MICRO, Dataset, Offer
from exchange.services import datasets as datasets_svc
from exchange.services import terms as terms_svc
from exchange.services.leases import extract_epsilon, leasable_columns, now_utc

INDICATIVE_DAYS = 30


def entry(offer: Offer, dataset: Dataset, *, exchange: Exchange | None = None) -> dict[str, Any]:
    policy = datasets_svc.require_policy(dataset)
    specs = policy.to_dict()["columns"]
    columns = leasable_columns(policy)
    eps = extract_epsilon(policy, columns)
    indicative = terms_svc.make_quote(
        offer=offer,
        dataset=dataset,
        policy=policy,
        columns=columns,
        days=INDICATIVE_DAYS,
        epsilon=eps,
        now=now_utc(),
    )
    out: dict[str, Any] = {
        "offer_id": offer.id,
        "title": offer.title,
        "dataset_id": dataset.id,
        "dataset_name": dataset.name,
        "domain": dataset.domain,
        "grade": dataset.grade,
        "description": dataset.description,
        "rows": dataset.rows,
        "k": offer.k,
        "schema": [
            {"name": c, "class": specs[c].get("class"), "rule": specs[c].get("rule")}
            for c in columns
        ],
        "terms": offer.terms,
        "policy_hash": dataset.policy_hash,
        "epsilon_cap": dataset.epsilon_cap_micro / MICRO,
        "epsilon_remaining": (dataset.epsilon_cap_micro - dataset.epsilon_spent_micro) / MICRO,
        "indicative_price_minor": indicative["total_minor"],
        "indicative_terms": {"days": INDICATIVE_DAYS, "columns": "all", "epsilon": eps},
    }
    if exchange is not None:
        out["preview"] = datasets_svc.preview(
            exchange, dataset, rows=exchange.settings.preview_rows
        )
    return out
