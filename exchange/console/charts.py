"""Charts as Plotly figure specs, each with its text alternative (a summary and a table).

The figures are plain dicts handed to plotly.js in the page; the table carries the same
figures for screen readers, for copying, and for anyone whose browser runs no script.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

BEFORE, AFTER, ACCENT, MUTED = "#c2410c", "#15803d", "#1d4ed8", "#94a3b8"


@dataclass
class Chart:
    id: str
    title: str
    summary: str  # one or two sentences: what the chart shows and its main reading
    headers: list[str]
    rows: list[list[Any]]
    data: list[dict[str, Any]] = field(default_factory=list)
    layout: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> dict[str, Any]:
        layout = {
            "height": 320,
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"family": "system-ui, sans-serif", "size": 12},
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
            **self.layout,
        }
        layout["margin"] = {"l": 60, "r": 20, "t": 40, "b": 50, **self.layout.get("margin", {})}
        return {"data": self.data, "layout": layout}


def pct(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f}%"


def money(minor: int | float | None, currency: str = "CNY") -> str:
    if minor is None:
        return "—"
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) / 100:,.2f} {currency}"


def revenue_chart(statement: dict[str, Any]) -> Chart:
    currency = statement.get("currency", "CNY")
    postings = sorted(statement.get("postings") or [], key=lambda p: p["time"])
    rows, running = [], 0
    by_day: dict[str, int] = {}
    balance_by_day: dict[str, int] = {}
    for p in postings:
        running += int(p["amount_minor"])
        day = str(p["time"])[:10]
        by_day[day] = by_day.get(day, 0) + int(p["amount_minor"])
        balance_by_day[day] = running
        rows.append(
            [
                p["time"],
                p["kind"],
                p.get("lease_id") or "",
                money(p["amount_minor"], currency),
                money(running, currency),
            ]
        )
    days = sorted(by_day)
    summary = (
        f"The provider's income per day and balance at each day's end, from "
        f"{len(postings)} ledger postings over {len(days)} days; balance now "
        f"{money(statement.get('balance_minor', running), currency)}."
    )
    return Chart(
        id="revenue-chart",
        title="Revenue over time",
        summary=summary,
        headers=["time", "kind", "lease", "amount", "balance"],
        rows=rows,
        data=[
            {
                "type": "bar",
                "name": "income that day",
                "x": days,
                "y": [by_day[d] / 100 for d in days],
                "marker": {"color": AFTER},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "balance",
                "line": {"shape": "hv", "color": ACCENT},
                "x": days,
                "y": [balance_by_day[d] / 100 for d in days],
            },
        ],
        layout={
            "yaxis": {"title": {"text": currency}, "rangemode": "tozero"},
            "xaxis": {"type": "date", "tickformat": "%Y-%m-%d", "dtick": 86400000},
        },
    )


def budget_gauge(budget: dict[str, Any]) -> Chart:
    allowance = float(budget.get("epsilon_allowance") or 0.0)
    spent = float(budget.get("epsilon_spent") or 0.0)
    remaining = float(budget.get("epsilon_remaining") or max(0.0, allowance - spent))
    queries = budget.get("queries") or []
    rows = [
        ["allowance", f"{allowance:g}"],
        ["spent", f"{spent:g}"],
        ["remaining", f"{remaining:g}"],
        ["queries answered", str(len(queries))],
    ]
    if budget.get("delta_allowance"):
        rows.append(
            [
                "δ spent / allowance",
                f"{budget.get('delta_spent', 0):g} / {budget['delta_allowance']:g}",
            ]
        )
    summary = (
        f"ε spent by this lease's DP queries: {spent:g} of {allowance:g} "
        f"({pct(spent / allowance if allowance else 0)}), {remaining:g} left."
    )
    return Chart(
        id="budget-gauge",
        title="Query budget (ε)",
        summary=summary,
        headers=["figure", "ε"],
        rows=rows,
        data=[
            {
                "type": "indicator",
                "mode": "gauge+number",
                "value": spent,
                "number": {"suffix": f" / {allowance:g} ε", "valueformat": ".3~f"},
                "gauge": {
                    "axis": {"range": [0, allowance or 1]},
                    "bar": {"color": BEFORE if allowance and spent / allowance > 0.8 else ACCENT},
                    "steps": [{"range": [0, allowance or 1], "color": "#e2e8f0"}],
                },
            }
        ],
        layout={"height": 240, "margin": {"l": 30, "r": 30, "t": 20, "b": 10}},
    )


def balances_chart(revenue: dict[str, Any]) -> Chart:
    currency = revenue.get("currency", "CNY")
    balances = sorted((revenue.get("balances_minor") or {}).items(), key=lambda kv: kv[1])
    parties = [name for name, _ in balances]
    values = [v / 100 for _, v in balances]
    rows = [[name, money(v, currency)] for name, v in balances]
    rows.append(["sum (must be zero)", money(revenue.get("sum_minor", 0), currency)])
    summary = (
        f"Balance of each of {len(parties)} ledger accounts, derived from the postings; "
        f"they sum to {money(revenue.get('sum_minor', 0), currency)} "
        f"({'balanced' if revenue.get('balanced') else 'NOT balanced'}). Buyers' accounts "
        "are negative by what they paid."
    )
    return Chart(
        id="balances-chart",
        title="Balances per party",
        summary=summary,
        headers=["party", "balance"],
        rows=rows,
        data=[
            {
                "type": "bar",
                "orientation": "h",
                "y": parties,
                "x": values,
                "marker": {"color": [BEFORE if v < 0 else AFTER for v in values]},
            }
        ],
        layout={
            "xaxis": {"title": {"text": currency}},
            "showlegend": False,
            "height": max(260, 36 * len(parties) + 100),
            "margin": {"l": 260},
        },
    )


def epsilon_chart(budgets: list[dict[str, Any]]) -> Chart:
    names = [f"{b.get('name') or b['dataset_id']} ({b['dataset_id'][-6:]})" for b in budgets]
    spent = [float(b.get("epsilon_spent") or 0.0) for b in budgets]
    caps = [float(b.get("epsilon_cap") or 0.0) for b in budgets]
    left = [max(0.0, c - s) for c, s in zip(caps, spent, strict=True)]
    rows = [
        [
            b["dataset_id"],
            b.get("name", ""),
            f"{s:g}",
            f"{c:g}",
            "yes" if b.get("within_cap", True) else "NO",
        ]
        for b, s, c in zip(budgets, spent, caps, strict=True)
    ]
    summary = (
        f"ε spent and left of the lifetime cap, per dataset ({len(budgets)} datasets); "
        f"{sum(spent):g} spent in all."
    )
    return Chart(
        id="epsilon-chart",
        title="ε spent per dataset",
        summary=summary,
        headers=["dataset", "name", "ε spent", "ε cap", "within cap"],
        rows=rows,
        data=[
            {
                "type": "bar",
                "orientation": "h",
                "name": "spent",
                "y": names,
                "x": spent,
                "marker": {"color": BEFORE},
            },
            {
                "type": "bar",
                "orientation": "h",
                "name": "left",
                "y": names,
                "x": left,
                "marker": {"color": MUTED},
            },
        ],
        layout={
            "barmode": "stack",
            "xaxis": {"title": {"text": "ε"}},
            "height": max(240, 40 * len(names) + 120),
            "margin": {"l": 200},
        },
    )


def timeline_chart(events: list[dict[str, Any]]) -> Chart:
    kinds = Counter(e["type"] for e in events)
    order = sorted(kinds)
    summary = (
        f"The last {len(events)} entries of the verifiable log by time and type: "
        + ", ".join(f"{kinds[k]} {k}" for k in order)
        + "."
    )
    return Chart(
        id="timeline-chart",
        title="Ledger timeline",
        summary=summary,
        headers=["type", "entries"],
        rows=[[k, kinds[k]] for k in order],
        data=[
            {
                "type": "scatter",
                "mode": "markers",
                "x": [e["time"] for e in events],
                "y": [e["type"] for e in events],
                "text": [f"#{e['index']}" for e in events],
                "marker": {"color": ACCENT, "size": 9, "opacity": 0.8},
                "hoverinfo": "x+y+text",
            }
        ],
        layout={
            "showlegend": False,
            "height": max(240, 28 * len(order) + 120),
            "margin": {"l": 170},
            "yaxis": {"categoryorder": "category descending"},
        },
    )


def transparency_chart(report: dict[str, Any]) -> Chart:
    cap = float(report.get("epsilon_cap") or 0.0)
    spent = float(report.get("epsilon_spent") or 0.0)
    leases = report.get("leases") or []
    by_org: dict[str, float] = {}
    for lease in leases:
        org = lease.get("organisation") or "?"
        by_org[org] = by_org.get(org, 0.0) + float(lease.get("epsilon") or 0.0)
    names = list(by_org) + ["left"]
    values = list(by_org.values()) + [max(0.0, cap - spent)]
    summary = (
        f"The dataset's lifetime privacy budget: ε {spent:g} of {cap:g} taken by "
        f"{len(leases)} leases of {len(by_org)} organisations."
    )
    return Chart(
        id="transparency-chart",
        title="Privacy budget taken, per organisation",
        summary=summary,
        headers=["organisation", "ε"],
        rows=[[n, f"{v:g}"] for n, v in zip(names, values, strict=True)],
        data=[
            {
                "type": "pie",
                "hole": 0.5,
                "labels": names,
                "values": values,
                "sort": False,
                "insidetextorientation": "horizontal",
                "textinfo": "label+value",
            }
        ],
        layout={"height": 300, "showlegend": False},
    )
