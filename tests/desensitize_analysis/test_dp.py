"""DP aggregate releases: query validation, budget accounting and the released values."""

from __future__ import annotations

import json
import threading
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from desensitize.dp import Budget, Query, QueryError, release, run_query
from desensitize.errors import BudgetExceeded, DesensitizeError


@pytest.fixture
def trips() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = 4_000
    return pd.DataFrame(
        {
            "district": rng.choice(["南山区", "福田区", "罗湖区"], rows, p=[0.5, 0.3, 0.2]),
            "fare": rng.integers(2, 12, rows).astype(float),
            "age": rng.integers(0, 100, rows),
            "note": ["x"] * rows,
        }
    )


@pytest.mark.parametrize(
    ("query", "field", "match"),
    [
        ({"op": "mean", "column": "fare", "epsilon": 0.5}, "bounds", "required for op 'mean'"),
        ({"op": "median", "epsilon": 0.5}, "op", "unknown op 'median'"),
        ({"op": "count"}, "epsilon", "is required"),
        ({"op": "count", "epsilon": 0}, "epsilon", "greater than 0"),
        ({"op": "count", "epsilon": -1.0}, "epsilon", "greater than 0"),
        ({"op": "count", "epsilon": "1"}, "epsilon", "must be a number"),
        ({"op": "sum", "column": "fare", "bounds": [5, 1], "epsilon": 1}, "bounds", "below high"),
        ({"op": "sum", "column": "fare", "bounds": [0], "epsilon": 1}, "bounds", "pair"),
        ({"op": "histogram", "column": "age", "range": [0, 1], "epsilon": 1}, "bins", "required"),
        (
            {"op": "histogram", "column": "age", "bins": 0, "range": [0, 1], "epsilon": 1},
            "bins",
            "positive",
        ),
        ({"op": "group_count", "epsilon": 1}, "by", "required"),
        ({"op": "count", "by": "district", "epsilon": 1}, "by", "not used by op 'count'"),
        ({"op": "count", "epsilon": 1, "colunm": "x"}, "colunm", "not a query field"),
    ],
)
def test_malformed_queries_name_the_field(query, field, match):
    with pytest.raises(QueryError, match=match) as caught:
        Query.from_dict(query)
    assert caught.value.field == field
    assert isinstance(caught.value, DesensitizeError)


@pytest.mark.parametrize(
    ("query", "match"),
    [
        ({"op": "sum", "column": "nope", "bounds": [0, 1], "epsilon": 1}, "unknown column 'nope'"),
        ({"op": "group_count", "by": "nope", "epsilon": 1}, "unknown column 'nope'"),
        ({"op": "mean", "column": "district", "bounds": [0, 1], "epsilon": 1}, "needs a numeric"),
        ({"op": "sum", "column": "note", "bounds": [0, 1], "epsilon": 1}, "needs a numeric"),
    ],
)
def test_queries_that_do_not_fit_the_table_are_refused_before_charging(trips, query, match):
    budget = Budget(1.0)
    with pytest.raises(QueryError, match=match):
        release(trips, query, budget)
    assert budget.spent == 0.0


def test_query_epsilon_is_readable_before_running():
    query = Query.from_dict({"op": "group_count", "by": "district", "epsilon": 0.3})
    assert (query.epsilon, query.columns) == (0.3, ["district"])
    # group keys without a public domain come from partition selection, which costs delta
    assert query.cost == (Fraction(3, 10), Fraction(1, 10**7))
    public = Query.from_dict({**query.to_dict(), "groups": ["南山区"]})
    assert public.cost == (Fraction(3, 10), Fraction(0))
    assert Query.from_dict(query.to_dict()) == query


def test_release_returns_value_cost_and_accounting_record(trips):
    budget = Budget(1.0, spent=0.2)
    query = {"op": "mean", "column": "fare", "bounds": [0, 20], "epsilon": 0.5}
    result = release(trips, query, budget, rng=np.random.default_rng(1))
    assert result.value == pytest.approx(trips["fare"].mean(), abs=0.5)
    assert result.epsilon == 0.5 and result.delta == 0.0
    assert result.record.to_dict() == {
        "op": "mean",
        "columns": ["fare"],
        "mechanism": "Laplace sum / geometric count",
        "epsilon": 0.5,
        "delta": 0.0,
        "epsilon_exact": "1/2",
        "delta_exact": "0",
        "epsilon_micro": 500_000,
        "sensitivity": 10.0,  # half the width of the bounds, one row per person
        "unit": "one row = one person",
        "max_rows": 1,
    }
    assert (result.spent_before, result.spent_after, result.cap) == (0.2, 0.7, 1.0)
    json.dumps(result.to_dict())


def test_release_over_the_cap_is_refused_with_what_is_left_and_charges_nothing(trips):
    budget = Budget(1.0, spent=0.75)
    with pytest.raises(BudgetExceeded, match="only 0.25 remains") as caught:
        release(trips, {"op": "count", "epsilon": 0.3}, budget)
    assert (caught.value.requested, caught.value.remaining) == (0.3, pytest.approx(0.25))
    assert budget.spent == 0.75 and budget.spends == ()
    release(trips, {"op": "count", "epsilon": 0.25}, budget)
    assert budget.remaining == 0.0


def test_budget_checks_then_spends_and_exposes_copies():
    budget = Budget(1.0)
    for epsilon in (0.1, 0.2, 0.7):  # sums to 1.0000000000000002 with plain float addition
        assert budget.check(epsilon)
        budget.spend(epsilon)
    assert budget.spent == 1.0 and budget.remaining == 0.0
    spends = budget.spends
    assert spends == (0.1, 0.2, 0.7) and isinstance(spends, tuple)
    with pytest.raises(BudgetExceeded):
        budget.check(1e-6)
    assert budget.to_dict() == {"cap": 1.0, "spent": 1.0, "remaining": 0.0}


@pytest.mark.parametrize(
    ("cap", "spent", "error", "match"),
    [
        (0.0, 0.0, ValueError, "cap must be finite and positive"),
        ("1", 0.0, TypeError, "cap must be a real number"),
        (1.0, -0.1, ValueError, "spent must be finite and non-negative"),
        (1.0, 1.5, ValueError, "already exceeds the cap"),
    ],
)
def test_budget_rejects_bad_caps_and_spends(cap, spent, error, match):
    with pytest.raises(error, match=match):
        Budget(cap, spent)


def test_concurrent_releases_never_overspend(trips):
    budget = Budget(1.0)
    outcomes: list[str] = []

    def ask() -> None:
        try:
            release(trips, {"op": "count", "epsilon": 0.15}, budget)
            outcomes.append("ok")
        except BudgetExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 6 and budget.spent <= 1.0


def test_run_query_spends_nothing_and_repeats_with_a_seed(trips):
    query = {"op": "sum", "column": "fare", "bounds": [0, 20], "epsilon": 1.0}
    first = run_query(trips, query, rng=np.random.default_rng(5))
    assert run_query(trips, query, rng=np.random.default_rng(5)) == first
    assert first == pytest.approx(trips["fare"].sum(), abs=300)


def test_counts_and_histograms_are_close_at_large_epsilon(trips):
    assert run_query(trips, {"op": "count", "epsilon": 5.0}, rng=1) == pytest.approx(4_000, abs=10)
    hist = run_query(
        trips,
        {"op": "histogram", "column": "age", "bins": 4, "range": [0, 100], "epsilon": 5.0},
        rng=2,
    )
    true, _ = np.histogram(trips["age"], bins=4, range=(0, 100))
    assert hist["edges"] == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert np.abs(np.array(hist["counts"]) - true).max() <= 10


def test_group_counts_and_sums_cover_each_group(trips):
    counts = run_query(trips, {"op": "group_count", "by": "district", "epsilon": 5.0}, rng=3)
    true = trips["district"].value_counts()
    assert set(counts) == set(true.index)
    assert all(abs(counts[k] - true[k]) <= 10 for k in counts)
    query = {
        "op": "group_sum",
        "by": "district",
        "column": "fare",
        "bounds": [0, 20],
        "epsilon": 5.0,
    }
    sums = run_query(trips, query, rng=4)
    true_sums = trips.groupby("district")["fare"].sum()
    assert all(abs(sums[k] - true_sums[k]) <= 200 for k in sums)


def test_a_public_group_domain_reports_absent_groups_too(trips):
    query = {"op": "group_count", "by": "district", "groups": ["南山区", "盐田区"], "epsilon": 5.0}
    counts = run_query(trips, query, rng=3)
    assert set(counts) == {"南山区", "盐田区"}
    assert counts["盐田区"] <= 10


def test_group_release_costs_its_epsilon_once(trips):
    budget = Budget(1.0)
    release(trips, {"op": "group_count", "by": "district", "epsilon": 0.3}, budget)
    assert budget.spends == (0.3,)


def test_sum_noise_has_the_laplace_scale_of_its_bounds(trips):
    small = trips.iloc[:10]
    query = {"op": "sum", "column": "fare", "bounds": [0, 10], "epsilon": 1.0}
    rng = np.random.default_rng(11)
    errors = np.array([run_query(small, query, rng=rng) for _ in range(2_000)])
    errors -= small["fare"].clip(0, 10).sum()
    assert np.mean(np.abs(errors)) == pytest.approx(10.0, rel=0.1)  # Laplace(b) has E|X| = b


def test_rng_must_be_a_generator_or_seed(trips):
    with pytest.raises(TypeError, match="rng must be"):
        run_query(trips, {"op": "count", "epsilon": 1.0}, rng="seed")
