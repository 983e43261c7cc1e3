"""Re-identification risk over quasi-identifiers and utility lost by desensitizing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from desensitize.errors import DataError
from desensitize.risk import class_size_histogram, risk_report, utility_report


@pytest.fixture
def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "district": ["南山区"] * 5 + ["福田区"] * 3 + ["罗湖区"],
            "gender": ["男"] * 3 + ["女"] * 2 + ["男"] * 3 + ["女"],
            "income": [5000, 6000, 7000, 8000, 9000, 10000, 11000, 12000, 13000],
        }
    )


def test_equivalence_classes_sizes_and_prosecutor_risk(people):
    report = risk_report(people, ["district", "gender"], k=3)
    # Classes: 南山/男 3, 南山/女 2, 福田/男 3, 罗湖/女 1.
    assert report.classes == 4
    assert report.smallest_class == 1
    assert report.rows_below_k == pytest.approx(3 / 9)
    assert report.unique_rows == pytest.approx(1 / 9)
    assert report.max_risk == 1.0
    assert report.mean_risk == pytest.approx(4 / 9)
    assert not report.is_k_anonymous


def test_a_k_anonymous_table_reports_no_rows_below_k(people):
    report = risk_report(people.iloc[:8], ["district"], k=3)
    assert report.is_k_anonymous and report.rows_below_k == 0.0
    assert report.max_risk == pytest.approx(1 / 3)


def test_nulls_in_quasi_identifiers_form_their_own_class():
    df = pd.DataFrame({"a": ["x", None, None, "x"]})
    assert risk_report(df, ["a"], k=2).classes == 2


def test_no_quasi_identifiers_puts_every_row_in_one_class(people):
    report = risk_report(people, [], k=5)
    assert (report.classes, report.smallest_class, report.max_risk) == (1, 9, pytest.approx(1 / 9))


def test_empty_table_has_no_classes_and_no_risk(people):
    report = risk_report(people.iloc[:0], ["district"], k=5)
    assert report.to_dict() == {
        "rows": 0,
        "k": 5,
        "quasi_identifiers": ["district"],
        "classes": 0,
        "smallest_class": 0,
        "rows_below_k": 0.0,
        "unique_rows": 0.0,
        "max_risk": 0.0,
        "mean_risk": 0.0,
        "k_anonymous": True,
        "class_sizes": [],
    }


def test_class_size_histogram_buckets_grow_one_two_five_and_start_one_at_k():
    sizes = np.array([1, 1, 2, 3, 4, 4, 7, 12, 130])
    buckets = [b.to_dict() for b in class_size_histogram(sizes, 4)]
    assert [(b["min_size"], b["max_size"]) for b in buckets] == [
        (1, 1), (2, 2), (3, 3), (4, 4), (5, 9), (10, 19), (20, 49), (50, 99), (100, 130)
    ]  # fmt: skip
    assert [b["classes"] for b in buckets] == [2, 1, 1, 2, 1, 1, 0, 0, 1]
    assert [b["rows"] for b in buckets] == [2, 2, 3, 8, 7, 12, 0, 0, 130]


def test_class_size_histogram_accounts_for_every_class_and_row(people):
    report = risk_report(people, ["district", "gender"], k=2)
    buckets = report.class_size_histogram
    assert sum(b.classes for b in buckets) == report.classes
    assert sum(b.rows for b in buckets) == report.rows
    below_k = sum(b.rows for b in buckets if b.max_size < report.k)
    assert below_k / report.rows == pytest.approx(report.rows_below_k)


def test_risk_report_is_json_safe(people):
    people = people.assign(district=people["district"].astype("category"))
    json.dumps(risk_report(people, ["district", "gender"], np.int64(2)).to_dict())


@pytest.mark.parametrize(
    ("qis", "k", "error", "match"),
    [
        (["nope"], 2, DataError, "unknown quasi-identifier column"),
        (["district"], 0, ValueError, "k must be a positive integer"),
        (["district"], 2.5, ValueError, "k must be a positive integer"),
    ],
)
def test_risk_report_rejects_bad_arguments(people, qis, k, error, match):
    with pytest.raises(error, match=match):
        risk_report(people, qis, k)


def test_numeric_utility_counts_changes_and_errors(people):
    after = people.astype({"income": float})
    after.loc[[0, 1], "income"] = [5500.0, 9000.0]
    report = utility_report(people, after, ["income"])["income"]
    assert report.kind == "numeric"
    assert report.changed == pytest.approx(2 / 9)
    assert report.suppressed == 0.0
    assert report.mae == pytest.approx((500 + 3000) / 9)
    assert report.mre == pytest.approx((0.1 + 0.5) / 9)
    assert report.tvd is None


def test_rows_missing_after_count_as_suppressed_and_changed(people):
    after = people.drop(index=[7, 8])
    report = utility_report(people, after, ["district", "income"])
    assert report["district"].suppressed == pytest.approx(2 / 9)
    assert report["district"].changed == pytest.approx(2 / 9)
    assert report["income"].mae == 0.0
    assert report.rows_after == 7


def test_categorical_utility_is_total_variation_distance(people):
    after = people.assign(district=people["district"].replace({"罗湖区": "福田区"}))
    report = utility_report(people, after, ["district", "gender"])
    assert report["district"].kind == "categorical"
    assert report["district"].tvd == pytest.approx(1 / 9)
    assert report["district"].changed == pytest.approx(1 / 9)
    assert report["gender"].changed == 0.0 and report["gender"].tvd == 0.0


def test_generalized_and_dropped_columns(people):
    after = people.drop(columns=["gender"]).assign(income=people["income"] // 10000 * 10000)
    report = utility_report(people, after, ["gender", "income"])
    assert (report["gender"].changed, report["gender"].suppressed) == (1.0, 1.0)
    assert report["income"].changed == pytest.approx(8 / 9)
    json.dumps(report.to_dict())


def test_nulls_that_stay_null_are_unchanged():
    before = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "b": ["x", None, "y"]})
    after = pd.DataFrame({"a": pd.array([1, None, 4], dtype="Int64"), "b": ["x", None, None]})
    report = utility_report(before, after, ["a", "b"])
    assert report["a"].changed == pytest.approx(1 / 3) and report["a"].mae == pytest.approx(0.5)
    assert report["b"].changed == pytest.approx(1 / 3)


def test_utility_needs_a_unique_index_and_known_columns(people):
    with pytest.raises(DataError, match="index must be unique"):
        utility_report(people, pd.concat([people, people]), ["income"])
    with pytest.raises(DataError, match="unknown compared column"):
        utility_report(people, people, ["nope"])
