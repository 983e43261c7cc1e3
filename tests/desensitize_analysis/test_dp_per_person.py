"""DP aggregates hold per person: the noise matches what each mechanism states, one person's
rows are bounded, rare groups stay hidden, and the accounting never rounds down."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from desensitize.dp import (
    Budget,
    Contribution,
    Query,
    QueryError,
    answer_query,
    bounded_rows,
    micro_units,
    run_query,
)
from desensitize.dp.bounding import keep_rows
from desensitize.dp.noise import expected_threshold, geometric, threshold_for
from desensitize.errors import BudgetExceeded

DRAWS = 4_000


def geometric_variance(epsilon: float, sensitivity: int) -> float:
    alpha = math.exp(-epsilon / sensitivity)
    return 2 * alpha / (1 - alpha) ** 2


def draws(df, query, n=DRAWS, *, contribution=None, seed=0):
    """``n`` answers to ``query``, with the per-person choice of rows made once."""
    q = Query.from_dict(query)
    bound = contribution or Contribution()
    kept = bounded_rows(df, q, bound, key=b"lease")
    rng = np.random.default_rng(seed)
    return [answer_query(df, q, rng=rng, contribution=bound, kept=kept).value for _ in range(n)]


@pytest.fixture
def boardings() -> pd.DataFrame:
    """20 children with 400 school-bus boardings each."""
    rng = np.random.default_rng(7)
    children = np.repeat([f"S{i:03d}" for i in range(20)], 400)
    return pd.DataFrame({"student_id": children, "fare": rng.integers(1, 5, len(children))})


# -- counts: unbounded two-sided geometric noise --------------------------------------------


def test_count_noise_is_the_two_sided_geometric_it_states():
    table = pd.DataFrame({"x": np.zeros(10_000)})
    answers = np.array(draws(table, {"op": "count", "epsilon": 0.1}))
    errors = answers - 10_000
    assert errors.var() == pytest.approx(geometric_variance(0.1, 1), rel=0.2)
    # the share of exact answers is (1 - a) / (1 + a) with a = exp(-0.1): about 5 %
    alpha = math.exp(-0.1)
    assert (errors == 0).mean() == pytest.approx((1 - alpha) / (1 + alpha), abs=0.015)
    # no truncation at the true count: answers above the table's size are as common as below
    assert 0.4 < (errors > 0).mean() / max((errors < 0).mean(), 1e-9) < 2.5
    assert answers.max() > 10_000


def test_the_geometric_mechanism_matches_its_variance_at_several_scales():
    state = np.random.RandomState(3)
    for epsilon, sensitivity in [(0.5, 1), (1.0, 10), (0.2, 3)]:
        noise = np.array(
            [
                geometric(0, epsilon=epsilon, sensitivity=sensitivity, state=state)
                for _ in range(8_000)
            ]
        )
        assert noise.var() == pytest.approx(geometric_variance(epsilon, sensitivity), rel=0.2)
        assert abs(noise.mean()) < 4 * math.sqrt(noise.var() / len(noise))


def test_sum_noise_is_laplace_with_the_bounds_scale():
    table = pd.DataFrame({"fare": np.full(50, 3.0)})
    answers = np.array(
        draws(table, {"op": "sum", "column": "fare", "bounds": [0, 5], "epsilon": 0.5})
    )
    scale = 5 / 0.5
    assert (answers - 150).var() == pytest.approx(2 * scale**2, rel=0.2)


# -- contribution bounds: per person, not per row -------------------------------------------


def test_each_person_keeps_at_most_max_rows_chosen_by_the_key(boardings):
    bound = Contribution("student_id", max_rows=10)
    kept = keep_rows(boardings, bound, key=b"a")
    assert boardings.iloc[kept].groupby("student_id").size().tolist() == [10] * 20
    assert np.array_equal(kept, keep_rows(boardings, bound, key=b"a"))  # same lease, same rows
    assert not np.array_equal(kept, keep_rows(boardings, bound, key=b"b"))


def test_one_persons_choice_does_not_depend_on_anyone_elses_rows(boardings):
    bound = Contribution("student_id", max_rows=10, max_groups=2)
    table = boardings.assign(stop=np.arange(len(boardings)) % 7)
    without = table[table["student_id"] != "S000"]
    kept = set(table.index[keep_rows(table, bound, key=b"k", by="stop")])
    kept_without = set(without.index[keep_rows(without, bound, key=b"k", by="stop")])
    assert {i for i in kept if table.at[i, "student_id"] != "S000"} == kept_without
    per_person = table.loc[sorted(kept)].groupby("student_id")
    assert per_person["stop"].nunique().max() <= 2 and per_person.size().max() <= 10


def test_a_count_over_400_rows_per_person_has_noise_scaled_to_max_rows(boardings):
    bound = Contribution("student_id", max_rows=10)
    answers = np.array(draws(boardings, {"op": "count", "epsilon": 1.0}, contribution=bound))
    assert np.median(answers) == pytest.approx(200, abs=3)  # 20 children x 10 rows
    assert (answers - 200).var() == pytest.approx(geometric_variance(1.0, 10), rel=0.2)
    record = answer_query(
        boardings, {"op": "count", "epsilon": 1.0}, contribution=bound, key=b"k"
    ).record
    assert (record.sensitivity, record.max_rows) == (10.0, 10)
    assert record.unit == "one person = one value of 'student_id'"


def test_one_persons_rows_change_the_answer_by_at_most_e_to_the_epsilon(boardings):
    epsilon = 1.0
    bound = Contribution("student_id", max_rows=10)
    without = boardings[boardings["student_id"] != "S000"]
    query = {"op": "count", "epsilon": epsilon}
    with_p = np.array(draws(boardings, query, 6_000, contribution=bound, seed=1))
    without_p = np.array(draws(without, query, 6_000, contribution=bound, seed=2))
    edges = np.arange(150, 251, 5)
    p, _ = np.histogram(with_p, edges)
    q, _ = np.histogram(without_p, edges)
    enough = (p >= 200) & (q >= 200)
    assert enough.sum() >= 6
    ratios = np.maximum(p[enough] / q[enough], q[enough] / p[enough])
    assert ratios.max() <= math.exp(epsilon) * 1.25
    # without bounds the person's 400 rows would move the count far beyond e^epsilon
    assert abs(np.median(with_p) - np.median(without_p)) == pytest.approx(10, abs=3)


# -- group keys: a public domain, or partition selection -------------------------------------


@pytest.fixture
def districts() -> pd.DataFrame:
    """300 people in three common districts and one person (10 rows) in a rare one."""
    common = np.repeat([f"P{i}" for i in range(300)], 5)
    frame = pd.DataFrame({"pid": common, "district": np.tile(["南山区", "福田区", "罗湖区"], 500)})
    rare = pd.DataFrame({"pid": ["RARE"] * 10, "district": ["盐田区"] * 10})
    return pd.concat([frame, rare], ignore_index=True)


def test_a_rare_group_absent_from_the_public_domain_appears_rarely(districts):
    bound = Contribution("pid", max_rows=10, max_groups=3)
    query = {"op": "group_count", "by": "district", "epsilon": 0.5}
    answers = draws(districts, query, 2_000, contribution=bound)
    assert np.mean(["盐田区" in a for a in answers]) <= 0.05
    assert np.mean(["南山区" in a for a in answers]) >= 0.95
    # a public domain: its groups always answer, nothing else ever does
    public = draws(districts, {**query, "groups": ["南山区", "福田区"]}, 200, contribution=bound)
    assert all(set(a) == {"南山区", "福田区"} for a in public)


def test_partition_selection_threshold_follows_opendps_privacy_map():
    for epsilon, delta, groups, rows in [(0.5, 1e-7, 1, 1), (1.0, 1e-6, 3, 10)]:
        scale, threshold = threshold_for(epsilon, delta, groups, rows)
        assert scale == pytest.approx(rows / epsilon)
        assert threshold == pytest.approx(expected_threshold(epsilon, delta, groups, rows), rel=0.1)


def test_group_answers_record_their_delta_and_domain(districts):
    bound = Contribution("pid", max_rows=10, max_groups=3)
    query = {"op": "group_count", "by": "district", "epsilon": 0.5, "delta": 1e-6}
    record = answer_query(districts, query, contribution=bound, key=b"k").record
    assert (record.domain, record.delta, record.max_groups) == (
        "partition selection",
        Fraction(1, 10**6),
        3,
    )
    sums = run_query(
        districts.assign(v=1.0),
        {"op": "group_sum", "by": "district", "column": "v", "bounds": [0, 1], "epsilon": 2.0},
        contribution=bound,
    )
    assert set(sums) <= {"南山区", "福田区", "罗湖区"}


# -- exact accounting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epsilon", "match"),
    [
        (4.9e-7, "below the minimum per query, 0.001"),
        (0.000999, "below the minimum per query, 0.001"),
        (10.5, "above the maximum per query, 10"),
    ],
)
def test_epsilon_outside_the_limits_per_query_is_refused(epsilon, match):
    with pytest.raises(QueryError, match=match):
        Query.from_dict({"op": "count", "epsilon": epsilon})


def test_charges_round_up_never_down():
    assert micro_units(0.1) == 100_000  # read as the decimal written
    assert micro_units(0.0010000001) == 1_001
    assert micro_units(Fraction(1, 3)) == 333_334
    assert micro_units(1e-9) == 1


def test_ten_thousand_tiny_queries_cannot_exceed_the_budget():
    budget = Budget(1.0)
    answered = 0
    for _ in range(10_000):
        try:
            budget.spend(Query.from_dict({"op": "count", "epsilon": 0.001}).epsilon)
            answered += 1
        except BudgetExceeded:
            pass
    assert answered == 1_000 and budget.spent == 1.0
    # charged in micro units, the smallest allowed query still costs what it spends
    tiny = 0.0010000001
    assert 10_000 * micro_units(tiny) / 1e6 >= 10_000 * tiny
