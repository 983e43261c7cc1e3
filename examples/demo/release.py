"""The demo's release story: the gate on a leaky policy, the release of a safe one, the
catalog's synthetic sample, two leases of one release, and a leak traced to its lease."""

from __future__ import annotations

import copy
import io
from typing import Any

import pandas as pd

from examples.demo.show import console, fen, say, show_frame
from exchange.client import Client, Invalid
from exchange.client.models import Dataset, Lease, Offer

PSEUDONYM_RULES = ("token", "fake")
LEAK_ROWS = 1_000
SHOWN = ["name", "resident_id", "birth_date", "gender", "district", "address", "monthly_income"]


def _levels(report: dict[str, Any], columns: list[str] | None = None) -> str:
    levels = report["k_anonymity"]["levels"]
    names = columns or list(levels)
    return ", ".join(f"{c}: {levels[c]['generalization']}" for c in names if c in levels)


def _release_figures(report: dict[str, Any]) -> str:
    gate = report["gate"]
    reasons: dict[str, list[str]] = {}
    for column, why in gate["not_counted"].items():
        reasons.setdefault(why, []).append(column)
    return "\n".join(
        [
            f"counted columns (k={gate['k']}): {', '.join(gate['counted_columns'])}",
            *(f"not counted, {why}: {', '.join(names)}" for why, names in reasons.items()),
            f"levels: {_levels(report)}",
            f"rows suppressed: {report['rows_suppressed']} of {report['rows_in']}",
        ]
    )


def release_gate(provider: Client, dataset: Dataset) -> Dataset:
    """A leaky policy first (display masks on ID and mobile), then the safe one."""
    say("2. the release gate: a leaky policy, then a safe one")
    leaky = copy.deepcopy(dataset.suggested_policy)
    leaky["k"] = 5
    leaky["columns"]["resident_id"] = {
        "class": "identifier",
        "rule": "mask",
        "preset": "cn_resident_id",
    }
    leaky["columns"]["mobile"] = {"class": "identifier", "rule": "mask", "preset": "cn_mobile"}
    console.print(
        "provider tries display masks: resident_id 'mask 6+4' (preset cn_resident_id), "
        "mobile 'mask 3+4' (preset cn_mobile), k=5"
    )
    try:
        provider.set_policy(dataset.id, leaky)
    except Invalid as refused:
        console.print(f"gate refused it (HTTP 422): {refused.message}")
    else:
        report = provider.preview(dataset.id, rows=3).report
        say(
            "leaky policy: masks keep raw characters, so the gate counts them",
            _release_figures(report),
        )
        console.print(
            f"to reach k=5 the gate generalized the masks ({_levels(report, ['resident_id', 'mobile'])}) "
            f"and suppressed {report['rows_suppressed']} rows: a release, but a poor one"
        )
    safe = copy.deepcopy(dataset.suggested_policy)
    safe["k"] = 5
    # Household size adds little for the buyer and splits every class: dropping it lets
    # the gate keep more of the birth dates.
    safe["columns"]["household_size"] = {"class": "drop"}
    provider.set_policy(dataset.id, safe)
    preview = provider.preview(dataset.id, rows=5)
    report = preview.report
    say("safe policy: the suggested one (tokens), household_size dropped", _release_figures(report))
    frame = pd.DataFrame(preview.rows)
    show_frame(frame[[c for c in SHOWN if c in frame]], "release preview (provider only)")
    say(
        "re-identification risk over the counted columns, before → after",
        "\n".join(
            f"{name:<16} {report['risk_before'][name]:.4g} → {report['risk_after'][name]:.4g}"
            for name in ("classes", "smallest_class", "unique_rows", "max_risk", "mean_risk")
        ),
    )
    return provider.get_dataset(dataset.id)


def catalog_sample(buyer: Client, offer: Offer) -> None:
    entry = buyer.catalog_entry(offer.id)
    sample = entry.sample or {}
    label = "synthetic" if sample.get("synthetic") else "NOT marked synthetic"
    frame = pd.DataFrame(sample["rows"], columns=sample["columns"])
    show_frame(
        frame[[c for c in SHOWN if c in frame]],
        f"catalog sample of {offer.id}: {len(frame)} {label} rows (no real row)",
        rows=3,
    )
    console.print(f"[dim]{sample.get('note', '')}")
    release = entry.release
    if release:
        console.print(
            f"the entry also gives the release's aggregate figures: {release['release_id']}, "
            f"{release['rows']} rows, {release['rows_suppressed']} suppressed, "
            + ", ".join(f"{c}: {g}" for c, g in release["generalization"].items())
        )


def _download(buyer: Client, lease: Lease) -> pd.DataFrame:
    received = io.BytesIO()
    buyer.download_extract(lease.id, received, format="csv")
    return pd.read_csv(io.BytesIO(received.getvalue()), dtype=str, keep_default_na=False)


def two_leases(
    buyer: Client,
    dataset: Dataset,
    offer: Offer,
    first: Lease,
    a: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, Lease]:
    """A second lease of the same release without `district`, compared with the first."""
    say("5. a second lease of the same release, without district")
    specs = (dataset.policy or {})["columns"]
    columns = [c for c in first.columns if c != "district"]
    second = buyer.request_lease(offer.id, "academic-research", days=30, columns=columns)
    paid = buyer.pay(second.id)
    console.print(f"lease {second.id}: {paid.status}, paid {fen(paid.price_minor)}")
    b = _download(buyer, second)
    rules = {c: specs[c]["rule"] for c in b.columns}
    shared = [c for c in b.columns if rules[c] not in (*PSEUDONYM_RULES, "noise")]
    noisy = [c for c in b.columns if rules[c] == "noise"]
    tokens = [c for c in b.columns if rules[c] in PSEUDONYM_RULES]
    same_rows = (
        a[shared].sort_values(shared).reset_index(drop=True)
        == b[shared].sort_values(shared).reset_index(drop=True)
    ).all(axis=None)
    in_place = int((a[shared].to_numpy() == b[shared].to_numpy()).all(axis=1).sum())
    shares = a[shared].value_counts(normalize=True)
    chance = float((shares**2).sum()) * len(a)
    lines = [
        f"rows: {len(a)} and {len(b)}; on {', '.join(shared)} the same multiset: "
        f"{'yes' if same_rows and len(a) == len(b) else 'NO'}",
        f"same values at the same position: {in_place} of {len(a)} rows "
        f"(about {chance:.0f} by chance in a random order): the orders differ",
    ]
    for c in noisy:
        gap = (
            pd.to_numeric(a[c]).sort_values().to_numpy()
            - pd.to_numeric(b[c]).sort_values().to_numpy()
        )
        lines.append(
            f"{c}: sorted values differ by at most {abs(gap).max():.4g} (each lease's keyed dither)"
        )
    common = set(a[tokens[0]]) & set(b[tokens[0]]) if tokens else set()
    if tokens:
        lines.append(f"{tokens[0]}: {len(common)} pseudonyms in common (re-keyed per lease)")
    say(f"lease {first.id} vs {second.id}", "\n".join(lines))
    return a, b, second


def trace_leak(auditor: Client, dataset: Dataset, extract: pd.DataFrame, lease: Lease) -> None:
    """A part of one extract leaks without its token columns, shuffled; the auditor traces it."""
    say("6. a leak: the auditor traces a file to its lease")
    specs = (dataset.policy or {})["columns"]
    tokens = [c for c in extract.columns if specs[c]["rule"] in PSEUDONYM_RULES]
    rows = min(LEAK_ROWS, len(extract))
    leak = extract.drop(columns=tokens).sample(n=rows, random_state=11)
    console.print(
        f"leaked: {rows} rows of lease {lease.id}'s extract, shuffled, columns "
        f"{', '.join(leak.columns)} (token columns {', '.join(tokens)} deleted)"
    )
    data = leak.to_csv(index=False).encode()
    found = auditor.trace(data, filename="leak.csv")
    right = found.lease_id == lease.id
    console.print(
        f"trace → lease {found.lease_id} ({'the right one' if right else 'WRONG'}), "
        f"score {found.score:.4f}, margin {found.margin or 0:.4f} over "
        f"{len(found.candidates)} candidate lease(s); per column: "
        + ", ".join(f"{c} {s:.3f}" for c, s in (found.columns or {}).items())
    )
    if not right:
        raise SystemExit(1)
