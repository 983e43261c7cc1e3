"""Record-level noise: calibrated like diffprivlib, equal to it in distribution, validated."""

from __future__ import annotations

import numpy as np
import pytest
from diffprivlib.mechanisms import GaussianAnalytic, Laplace, LaplaceTruncated
from scipy import stats

from desensitize.mechanisms import (
    GRID_STEPS,
    add_gaussian,
    add_laplace,
    gaussian_scale,
    laplace_scale,
)

SAMPLES = 20_000
ALPHA = 0.01


def _inputs(low: float, high: float) -> np.ndarray:
    return np.random.default_rng(7).uniform(low, high, SAMPLES)


def _reference(mechanism, values: np.ndarray) -> np.ndarray:
    return np.array([mechanism.randomise(float(v)) for v in values])


def test_laplace_scale_matches_diffprivlib_variance():
    for sensitivity, epsilon in [(1.0, 0.1), (100.0, 1.0), (1e5, 3.0)]:
        expected = Laplace(epsilon=epsilon, sensitivity=sensitivity).variance(0.0)
        assert 2 * laplace_scale(sensitivity, epsilon) ** 2 == pytest.approx(expected, rel=1e-12)


def test_gaussian_scale_is_diffprivlib_analytic_scale():
    mechanism = GaussianAnalytic(epsilon=2.0, delta=1e-6, sensitivity=50.0)
    assert gaussian_scale(50.0, 2.0, 1e-6) == pytest.approx(mechanism._scale, rel=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")  # scipy renames anderson_ksamp options
def test_clipped_laplace_output_matches_diffprivlib_laplace_truncated():
    x = _inputs(-20, 120)  # some inputs outside the bounds are clipped first
    ours = add_laplace(x, epsilon=5.0, lower=0.0, upper=100.0, rng=np.random.default_rng(1))
    mechanism = LaplaceTruncated(
        epsilon=5.0, sensitivity=100.0, lower=0.0, upper=100.0, random_state=3
    )
    ref = _reference(mechanism, np.clip(x, 0, 100))
    assert stats.ks_2samp(ours, ref).pvalue > ALPHA
    assert (
        stats.anderson_ksamp(
            [ours, ref], method=stats.PermutationMethod(n_resamples=200, random_state=0)
        ).pvalue
        > ALPHA
    )


def test_interior_laplace_noise_matches_diffprivlib_laplace():
    x = _inputs(450, 550)
    ours = add_laplace(x, epsilon=50.0, lower=0.0, upper=1000.0, rng=np.random.default_rng(2))
    ref = _reference(Laplace(epsilon=50.0, sensitivity=1000.0, random_state=4), x)
    assert np.mean((ours == 0) | (ours == 1000)) < 1e-3
    assert stats.ks_2samp(ours - x, ref - x).pvalue > ALPHA


def test_distribution_test_detects_a_laplace_scale_a_quarter_too_large():
    x = _inputs(0, 100)
    wrong = add_laplace(x, epsilon=4.0, lower=0.0, upper=100.0, rng=np.random.default_rng(1))
    mechanism = LaplaceTruncated(
        epsilon=5.0, sensitivity=100.0, lower=0.0, upper=100.0, random_state=3
    )
    assert stats.ks_2samp(wrong, _reference(mechanism, x)).pvalue < 1e-4


@pytest.mark.parametrize(("upper", "matches"), [(100.0, True), (125.0, False)])
def test_gaussian_output_matches_clipped_gaussian_analytic_only_at_the_right_scale(upper, matches):
    x = _inputs(0, 100)
    # Widening the bounds to 125 makes the noise a quarter too large: the negative control.
    ours = add_gaussian(
        x, epsilon=5.0, delta=1e-5, lower=0.0, upper=upper, rng=np.random.default_rng(5)
    )
    mechanism = GaussianAnalytic(epsilon=5.0, delta=1e-5, sensitivity=100.0, random_state=6)
    pvalue = stats.ks_2samp(ours, np.clip(_reference(mechanism, x), 0, upper)).pvalue
    assert (pvalue > ALPHA) if matches else (pvalue < 1e-4)


def test_outputs_stay_on_the_grid_within_bounds():
    x = _inputs(-50, 150)
    out = add_laplace(x, epsilon=1.0, lower=10.0, upper=90.0, rng=np.random.default_rng(0))
    assert out.min() >= 10.0 and out.max() <= 90.0
    steps = (out - 10.0) / (80.0 / GRID_STEPS)
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-6)


def test_missing_values_stay_missing_and_equal_bounds_give_the_bound():
    x = np.array([1.0, np.nan, 3.0])
    out = add_laplace(x, epsilon=1.0, lower=0.0, upper=10.0, rng=np.random.default_rng(0))
    assert np.isnan(out[1]) and not np.isnan(out[[0, 2]]).any()
    same = add_gaussian(
        x, epsilon=1.0, delta=1e-6, lower=2.0, upper=2.0, rng=np.random.default_rng(0)
    )
    assert np.isnan(same[1]) and (same[[0, 2]] == 2.0).all()


def test_same_seed_gives_the_same_noise():
    x = _inputs(0, 1)
    a = add_laplace(x, epsilon=1.0, lower=0.0, upper=1.0, rng=np.random.default_rng(9))
    b = add_laplace(x, epsilon=1.0, lower=0.0, upper=1.0, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)


RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epsilon": "1"}, TypeError, "epsilon must be a real number"),
        ({"lower": None}, TypeError, "lower must be a real number"),
        ({"rng": 42}, TypeError, "rng must be a numpy.random.Generator"),
        ({"values": ["a", "b"]}, TypeError, "values must be numeric"),
        ({"epsilon": 0.0}, ValueError, "epsilon must be finite and at least"),
        ({"epsilon": float("inf")}, ValueError, "epsilon must be finite"),
        ({"lower": 5.0, "upper": 1.0}, ValueError, "must not exceed upper"),
        ({"upper": float("nan")}, ValueError, "lower and upper must be finite"),
    ],
)
def test_laplace_rejects_bad_arguments_type_before_range(kwargs, error, match):
    args = {"values": np.zeros(3), "epsilon": 1.0, "lower": 0.0, "upper": 1.0, "rng": RNG}
    args.update(kwargs)
    values = args.pop("values")
    with pytest.raises(error, match=match):
        add_laplace(values, **args)


def test_type_errors_come_before_range_errors():
    with pytest.raises(TypeError, match="rng"):
        add_laplace(np.zeros(2), epsilon=-1.0, lower=0.0, upper=1.0, rng=None)


@pytest.mark.parametrize(
    ("delta", "error", "match"),
    [
        ("x", TypeError, "delta must be a real number"),
        (0.0, ValueError, r"delta must be in \(0, 1\)"),
    ],
)
def test_gaussian_rejects_bad_delta(delta, error, match):
    with pytest.raises(error, match=match):
        add_gaussian(np.zeros(2), epsilon=1.0, delta=delta, lower=0.0, upper=1.0, rng=RNG)
