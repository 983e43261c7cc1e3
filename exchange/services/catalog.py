"""Catalog entries: what a buyer sees before asking for a lease. Never raw values, and
never a real row, even desensitized: the sample is synthetic (invariant 3)."""

from __future__ import annotations

import json
from typing import Any

from desensitize import DesensitizeError, Policy, synthetic_sample
from desensitize.synthetic import NOTE
from exchange.db.models import MICRO, Dataset, Offer, Release
from exchange.services import datasets as datasets_svc
from exchange.services import terms as terms_svc
from exchange.services.leases import extract_epsilon, leasable_columns, now_utc
from exchange.services.memo import Memo
from exchange.services.queries import unit_summary

INDICATIVE_DAYS = 30


def entry(
    offer: Offer, dataset: Dataset, *, sample_rows: int = 0, release: Release | None = None
) -> dict[str, Any]:
    """One offer as the catalog shows it; with `sample_rows`, a synthetic sample too, and
    with its `release`, the release gate's aggregate figures (no row, no value)."""
    priced = _priced(offer, dataset)
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
        "schema": priced["schema"],
        "terms": offer.terms,
        "policy_hash": dataset.policy_hash,
        "dp_queries": priced["dp_queries"],
        "epsilon_cap": dataset.epsilon_cap_micro / MICRO,
        "epsilon_remaining": (dataset.epsilon_cap_micro - dataset.epsilon_spent_micro) / MICRO,
        "indicative_price_minor": priced["indicative_price_minor"],
        "indicative_terms": priced["indicative_terms"],
    }
    if sample_rows:
        out["sample"] = sample(dataset, datasets_svc.require_policy(dataset), rows=sample_rows)
    if release is not None:
        out["release"] = release_summary(release)
    return out


# What the policy and the price list make of an offer. The key holds every input: the policy
# hash covers the policy's content, and an offer's terms and pricing never change once it
# is published; so a new policy, or another row count, is a new key, never a stale entry.
_PRICED = Memo(4096)


def _priced(offer: Offer, dataset: Dataset) -> dict[str, Any]:
    key = (offer.id, dataset.id, dataset.policy_hash, dataset.rows, dataset.grade)
    return _PRICED.get_or_make(key, lambda: _price(offer, dataset))


def _price(offer: Offer, dataset: Dataset) -> dict[str, Any]:
    policy = datasets_svc.require_policy(dataset)
    specs = policy.to_dict()["columns"]
    columns = leasable_columns(policy)
    eps = extract_epsilon(policy, columns)
    # The price depends on the lease's length, not its dates: any `now` gives the same total.
    indicative = terms_svc.make_quote(
        offer=offer,
        dataset=dataset,
        policy=policy,
        columns=columns,
        days=INDICATIVE_DAYS,
        epsilon=eps,
        now=now_utc(),
    )
    return {
        "schema": [
            {"name": c, "class": specs[c].get("class"), "rule": specs[c].get("rule")}
            for c in columns
        ],
        "dp_queries": unit_summary(policy.to_dict()),
        "indicative_price_minor": indicative["total_minor"],
        "indicative_terms": {"days": INDICATIVE_DAYS, "columns": "all", "epsilon": eps},
    }


def release_summary(release: Release) -> dict[str, Any]:
    """What the gate counted and did, and the risk and utility figures of the release."""
    report = release.report
    levels = (report.get("k_anonymity") or {}).get("levels", {})
    return {
        "release_id": release.id,
        "rows": release.rows,
        "rows_suppressed": report.get("rows_suppressed", 0),
        "gate": report.get("gate"),
        "generalization": {name: entry["generalization"] for name, entry in levels.items()},
        "risk_after": report.get("risk_after"),
        "utility": report.get("utility"),
    }


# Catalog samples by dataset, policy version and size. A sample takes tens of milliseconds
# to make, which a catalog view cannot afford, and making a new one per view adds nothing:
# its inputs are drawn from the policy alone, and its keyed columns (tokens, fakes, noise)
# come from a throwaway key that no lease or extract ever uses, whether it is drawn for one
# view or for a process's lifetime. A dataset's profile is made with its upload and never
# changes, so the key holds every input, and a new policy is a new key.
_SAMPLES = Memo(1024)


def sample(dataset: Dataset, policy: Policy, *, rows: int) -> dict[str, Any]:
    """Synthetic rows in the policy's output formats, made from the profile's column kinds
    and the policy alone: no data row is read, so none can be shown or re-identified."""
    if dataset.policy_hash is None:
        return _sample(dataset, policy, rows=rows)
    key = (dataset.id, dataset.policy_hash, rows)
    return _SAMPLES.get_or_make(key, lambda: _sample(dataset, policy, rows=rows))


def _sample(dataset: Dataset, policy: Policy, *, rows: int) -> dict[str, Any]:
    # Inputs stable per policy version; keyed columns under a throwaway key (see _SAMPLES).
    seed = int(dataset.policy_hash[:16], 16) if dataset.policy_hash else 0
    try:
        frame = synthetic_sample(policy, dataset.profile or {}, rows=rows, seed=seed)
    except DesensitizeError:
        frame = None  # a rule that needs real values cannot run on made-up ones
    out: dict[str, Any] = {"synthetic": True, "note": NOTE}
    if frame is None:
        return {**out, "columns": [], "rows": []}
    records = frame.to_json(orient="records", date_format="iso", force_ascii=False)
    return {**out, "columns": [str(c) for c in frame.columns], "rows": json.loads(records)}
