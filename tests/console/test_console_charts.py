"""The policy editor's risk chart is the class-size distribution before and after."""

from __future__ import annotations

import pandas as pd
import pytest

from desensitize.risk import risk_report
from exchange.console.release_charts import risk_chart


def _report() -> dict:
    before = pd.DataFrame({"age": list(range(20, 30)) + [40] * 12, "district": ["福田区"] * 22})
    after = before.assign(age=(before["age"] // 10 * 10).astype(str) + "s")
    return {
        "risk_before": risk_report(before, ["age", "district"], 3).to_dict(),
        "risk_after": risk_report(after, ["age", "district"], 3).to_dict(),
    }


def test_risk_chart_plots_the_share_of_rows_per_class_size_bucket():
    chart = risk_chart(_report())
    before, after = chart.data
    assert before["x"] == after["x"] == ["1", "2", "3–4", "5–9", "10–12"]
    assert before["y"] == pytest.approx([100 * 10 / 22, 0, 0, 0, 100 * 12 / 22])
    assert after["y"] == [0, 0, 0, 0, 100]  # two classes: the 20s (10) and the 40s (12)
    assert after["customdata"] == [0, 0, 0, 0, 2]


def test_risk_chart_shades_the_sizes_below_k_and_says_so_in_text():
    chart = risk_chart(_report())
    (shade,) = chart.layout["shapes"]
    assert (shade["x0"], shade["x1"]) == (-0.5, 1.5)  # buckets "1" and "2"
    assert "below k = 3 are shaded" in chart.summary
    assert chart.rows[0] == ["1", "10 classes, 45.5% of rows", "0 classes, 0.0% of rows"]
    assert ["3-anonymous", "no", "yes"] in chart.rows
