"""DP bounds on public grids of nice values."""

from __future__ import annotations

import numpy as np
import pytest

from desensitize.dp_bounds import dp_lower_bound, dp_upper_bound, nice_grid, nice_integers


def test_grids_are_public_nice_values():
    assert nice_grid(0, 2).tolist() == [0, 1, 2, 5, 10, 20, 50, 100]
    assert nice_grid(0, 1, signed=True).tolist() == [-10, -5, -2, -1, 0, 1, 2, 5, 10]
    assert nice_integers(13).tolist() == [1, 2, 3, 4, 5, 6, 8, 10, 12, 15]
    assert nice_integers(150)[-3:].tolist() == [100, 120, 150]


@pytest.mark.parametrize(("rows", "expected"), [(50_000, 1_000.0), (5_000, 2_000.0)])
def test_upper_bound_lands_near_the_quantile_on_the_grid(rows, expected):
    # With 5,000 values 1% is below the noise floor: the threshold is lifted and the
    # result steps one grid value outwards as headroom.
    values = np.random.default_rng(0).uniform(0, 700, rows)
    grid = nice_grid(0, 9)
    found = {
        dp_upper_bound(values, quantile=0.99, epsilon=0.05, grid=grid, rng=np.random.default_rng(s))
        for s in range(20)
    }
    assert found == {expected}


def test_too_few_values_give_the_grid_top_which_clamps_nothing():
    grid = nice_grid(0, 6)
    bound = dp_upper_bound(
        np.arange(20.0), quantile=0.99, epsilon=0.05, grid=grid, rng=np.random.default_rng(0)
    )
    assert bound == 1e6


def test_lower_bound_mirrors_the_upper_one():
    values = np.random.default_rng(1).uniform(-700, -100, 5_000)
    grid = nice_grid(0, 6, signed=True)
    low = dp_lower_bound(
        values, quantile=0.01, epsilon=0.05, grid=grid, rng=np.random.default_rng(2)
    )
    assert low in (-1_000.0, -2_000.0)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        dp_upper_bound(np.ones(3), quantile=1.0, epsilon=0.1, grid=nice_grid(0, 1), rng=None)  # type: ignore[arg-type]
