"""Entropy and recursive (c,l)-diversity, t-closeness, and population-based risk."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from desensitize.diversity import diversity_report
from desensitize.errors import DataError
from desensitize.population_risk import population_risk, record_risk

# Li, Li and Venkatasubramanian's salary example: nine salaries, one class holding the
# three lowest, the other the rest.
SALARIES = pd.DataFrame(
    {
        "zip": ["4767*"] * 3 + ["4790*"] * 6,
        "salary": [3, 4, 5, 6, 7, 8, 9, 10, 11],
    }
)


def test_t_closeness_matches_the_papers_earth_mover_distances() -> None:
    report = diversity_report(SALARIES, ["zip"], "salary")
    assert report.t_ordered == pytest.approx(0.375)  # 27/9 over 8 steps
    assert report.t_equal == pytest.approx(2 / 3)
    as_labels = diversity_report(SALARIES.astype({"salary": str}), ["zip"], "salary")
    assert as_labels.t_ordered is None and as_labels.t_equal == pytest.approx(2 / 3)


def test_entropy_and_recursive_diversity_take_the_least_diverse_class() -> None:
    frame = pd.DataFrame(
        {
            "q": ["a"] * 7 + ["b"] * 4,
            "s": ["x"] * 5 + ["y", "z"] + ["x", "y", "z", "w"],
        }
    )
    report = diversity_report(frame, ["q"], "s", recursive_l=(2, 3, 5))
    shares = np.array([5, 1, 1]) / 7
    assert report.entropy_l == pytest.approx(math.exp(-(shares * np.log(shares)).sum()))
    assert report.distinct_l == 3
    assert report.recursive_c[2] == pytest.approx(5 / 2)  # 5 < c * (1 + 1)
    assert report.recursive_c[3] == pytest.approx(5)  # 5 < c * 1
    assert report.recursive_c[5] == math.inf  # a class with fewer than 5 values
    assert report.to_dict()["recursive_c"]["2"] == pytest.approx(2.5)


def test_a_uniform_table_is_at_distance_zero_and_as_diverse_as_its_values() -> None:
    frame = pd.DataFrame({"q": ["a", "a", "b", "b"], "s": [1, 2, 1, 2]})
    report = diversity_report(frame, ["q"], "s")
    assert report.t_equal == 0 and report.t_ordered == 0
    assert report.entropy_l == pytest.approx(2) and report.classes == 2


def test_a_missing_column_is_named() -> None:
    with pytest.raises(DataError, match="'diagnosis'"):
        diversity_report(SALARIES, ["zip"], "diagnosis")


@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.01])
def test_record_risk_is_the_expected_inverse_population_size(fraction: float) -> None:
    sizes = np.array([1, 2, 3, 7])
    rng = np.random.default_rng(4)
    for f, risk in zip(sizes, record_risk(sizes, fraction), strict=True):
        population = f + stats.nbinom(f, fraction).rvs(200_000, random_state=rng)
        assert risk == pytest.approx(np.mean(1 / population), rel=0.02)


def test_the_whole_population_gives_the_prosecutor_risk() -> None:
    risk = population_risk(np.array([1, 2, 2, 5]), 1.0)
    assert risk.journalist == 1.0 and risk.marketer == pytest.approx(4 / 10)
    assert risk.population_uniques == risk.sample_uniques == 1


def test_a_small_sample_lowers_journalist_and_marketer_risk() -> None:
    sizes = np.array([1, 1, 3, 8])
    whole, sampled = population_risk(sizes, 1.0), population_risk(sizes, 0.05)
    assert sampled.journalist < whole.journalist and sampled.marketer < whole.marketer
    assert sampled.population_uniques == pytest.approx(0.1)
    # a tiny fraction: F nearly Gamma(f) / fraction, whose inverse has mean fraction / (f - 1)
    assert record_risk(np.array([3]), 1e-7)[0] == pytest.approx(1e-7 / 2, rel=0.01)
    with pytest.raises(ValueError, match="fraction"):
        record_risk(sizes, 0.0)
