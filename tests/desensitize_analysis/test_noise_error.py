"""The preview's error figures for noisy columns: clamped share, RMSE, correlation, warning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from desensitize import Keyring, Policy, apply
from desensitize.noise_error import noise_errors

KEYS = Keyring(b"n" * 32)


def errors_for(truth: pd.DataFrame, epsilon: float, bounds: list[float], k: int | None = None):
    spec = {"class": "sensitive", "rule": "noise", "epsilon": epsilon, "bounds": bounds}
    body = {"columns": {"x": spec, "g": {"class": "attribute", "rule": "keep"}}}
    if k:
        body["k"] = k
    policy = Policy.from_dict(body)
    return noise_errors(truth, apply(truth, policy, KEYS).frame, policy)


@pytest.fixture
def truth() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    return pd.DataFrame({"x": rng.uniform(40, 60, 20_000), "g": rng.integers(0, 3, 20_000)})


def test_wide_noise_puts_most_values_on_a_bound_and_warns(truth):
    # Laplace scale 100 around the middle of [0, 100]: P(|noise| > 50) = e^-0.5 = 0.61
    (error,) = errors_for(truth, 1.0, [0, 100])
    assert error.clamped_share == pytest.approx(np.exp(-0.5), abs=0.03)
    assert error.correlation < 0.1
    assert error.rows == len(truth) and error.generalized_share == 0
    assert "61% of values sit on a bound" in error.warning


def test_mild_noise_reports_its_error_without_a_warning(truth):
    # scale 10: e^-5 of values clamped; correlation sqrt(var x / (var x + 2 * 10^2)) = 0.38
    (error,) = errors_for(truth, 10.0, [0, 100])
    assert error.clamped_share < 0.02
    assert error.rmse == pytest.approx(np.sqrt(2) * 10, rel=0.1)
    assert error.correlation == pytest.approx(0.38, abs=0.04)
    assert error.warning is None


def test_values_generalized_by_the_gate_are_reported_as_lost(truth):
    # epsilon above 1 counts the column as a quasi-identifier, and k generalizes it
    (error,) = errors_for(truth, 10.0, [0, 100], k=5000)
    assert error.generalized_share > 0.5 and error.rows == 0
    assert "generalized" in error.warning


def test_columns_without_noise_are_not_reported(truth):
    policy = Policy.from_dict({"columns": {"x": {"class": "attribute", "rule": "keep"}}})
    assert noise_errors(truth, apply(truth, policy, KEYS).frame, policy) == []
