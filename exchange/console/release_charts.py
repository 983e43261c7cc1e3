"""The policy editor's charts: the class-size distribution before and after the release,
and the utility each column keeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exchange.console.charts import AFTER, BEFORE, MUTED, Chart, pct


def _size_axis(*histograms: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """One class-size axis for several histograms: their buckets share starts (the same
    1-2-5 series and k), only the last one ends at each table's own largest class."""
    starts = sorted({b["min_size"] for h in histograms for b in h})
    largest = max((b["max_size"] for h in histograms for b in h), default=0)
    return [(lo, hi - 1) for lo, hi in zip(starts, starts[1:], strict=False)] + (
        [(starts[-1], largest)] if starts else []
    )


def _size_label(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}–{hi}"


def _shares(histogram: list[dict[str, Any]], axis: list[tuple[int, int]]) -> list[float]:
    """Share of rows in each bucket of the axis."""
    total = sum(b["rows"] for b in histogram) or 1
    by_start = {b["min_size"]: b["rows"] for b in histogram}
    return [by_start.get(lo, 0) / total for lo, _ in axis]


def _classes(histogram: list[dict[str, Any]], axis: list[tuple[int, int]]) -> list[int]:
    by_start = {b["min_size"]: b["classes"] for b in histogram}
    return [by_start.get(lo, 0) for lo, _ in axis]


def risk_chart(report: dict[str, Any]) -> Chart:
    """The class-size distribution before and after: the share of rows in classes of each
    size, with the sizes below k (the ones an attacker singles out) shaded."""
    before, after = report["risk_before"], report["risk_after"]
    k = int(after.get("k") or before.get("k") or 1)
    hist_b, hist_a = before.get("class_sizes") or [], after.get("class_sizes") or []
    axis = _size_axis(hist_b, hist_a)
    labels = [_size_label(lo, hi) for lo, hi in axis]
    b, a = _shares(hist_b, axis), _shares(hist_a, axis)
    nb, na = _classes(hist_b, axis), _classes(hist_a, axis)
    rows: list[list[Any]] = [
        [label, f"{cb} classes, {pct(x)} of rows", f"{ca} classes, {pct(y)} of rows"]
        for label, cb, x, ca, y in zip(labels, nb, b, na, a, strict=True)
    ]
    figures: list[tuple[str, str, Callable[[Any], str]]] = [
        ("rows in unique classes", "unique_rows", pct),
        (f"rows in classes below k = {k}", "rows_below_k", pct),
        ("equivalence classes", "classes", str),
        ("smallest class (rows)", "smallest_class", str),
        ("highest re-identification risk", "max_risk", pct),
        ("mean re-identification risk", "mean_risk", pct),
        (f"{k}-anonymous", "k_anonymous", lambda v: "yes" if v else "no"),
    ]
    for name, key, fmt in figures:
        rows.append([name, fmt(before.get(key)), fmt(after.get(key))])
    summary = (
        f"Share of rows by the size of their equivalence class over the released "
        f"quasi-identifiers, before and after desensitization; sizes below k = {k} are "
        f"shaded. Before: {pct(before.get('unique_rows'))} of rows are unique and "
        f"{pct(before.get('rows_below_k'))} sit in classes below {k}; after: "
        f"{pct(after.get('unique_rows'))} unique, {pct(after.get('rows_below_k'))} below {k}, "
        f"smallest class {after.get('smallest_class')}. Highest risk "
        f"{pct(before.get('max_risk'))} before, {pct(after.get('max_risk'))} after."
    )
    below = sum(1 for _, hi in axis if hi < k)
    shapes = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": -0.5,
            "x1": below - 0.5,
            "y0": 0,
            "y1": 1,
            "fillcolor": "#fee2e2",
            "line": {"width": 0},
            "layer": "below",
        }
    ]
    return Chart(
        id="risk-chart",
        title="Re-identification risk before and after: class-size distribution",
        summary=summary,
        headers=["class size (rows)", "before", "after"],
        rows=rows,
        data=[
            {
                "type": "bar",
                "name": "before",
                "x": labels,
                "y": [100 * v for v in b],
                "customdata": nb,
                "hovertemplate": "%{y:.1f}% of rows in %{customdata} classes<extra>before</extra>",
                "marker": {"color": BEFORE},
            },
            {
                "type": "bar",
                "name": "after",
                "x": labels,
                "y": [100 * v for v in a],
                "customdata": na,
                "hovertemplate": "%{y:.1f}% of rows in %{customdata} classes<extra>after</extra>",
                "marker": {"color": AFTER},
            },
        ],
        layout={
            "barmode": "group",
            "shapes": shapes if below else [],
            "xaxis": {"title": {"text": "class size (rows)"}, "type": "category"},
            "yaxis": {"title": {"text": "% of rows"}, "range": [0, 100]},
        },
    )


def utility_chart(report: dict[str, Any]) -> Chart | None:
    columns = (report.get("utility") or {}).get("columns") or []
    if not columns:
        return None
    names = [c["column"] for c in columns]
    changed = [float(c.get("changed") or 0.0) for c in columns]
    suppressed = [float(c.get("suppressed") or 0.0) for c in columns]
    rows = []
    for c in columns:
        error = (
            f"MAE {c['mae']:.4g}, MRE {pct(c.get('mre'))}"
            if c.get("mae") is not None
            else f"TVD {c['tvd']:.3f}"
            if c.get("tvd") is not None
            else "—"
        )
        rows.append(
            [c["column"], c.get("kind", ""), pct(c.get("changed")), pct(c.get("suppressed")), error]
        )
    worst = max(columns, key=lambda c: float(c.get("changed") or 0.0))
    summary = (
        f"Per column, the share of values the release changes or suppresses. "
        f"{len(columns)} columns measured; most changed: {worst['column']} "
        f"({pct(worst.get('changed'))})."
    )
    return Chart(
        id="utility-chart",
        title="Utility: values changed per column",
        summary=summary,
        headers=["column", "kind", "changed", "suppressed", "error"],
        rows=rows,
        data=[
            {
                "type": "bar",
                "orientation": "h",
                "name": "changed",
                "y": names,
                "x": [100 * v for v in changed],
                "marker": {"color": BEFORE},
            },
            {
                "type": "bar",
                "orientation": "h",
                "name": "suppressed",
                "y": names,
                "x": [100 * v for v in suppressed],
                "marker": {"color": MUTED},
            },
        ],
        layout={
            "barmode": "group",
            "xaxis": {"title": {"text": "% of values"}, "range": [0, 100]},
            "height": max(260, 40 * len(names) + 100),
            "margin": {"l": 140},
        },
    )
