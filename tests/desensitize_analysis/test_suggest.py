"""The planned suggestion: core demographics kept as fine as passes, and its utility reported."""

from __future__ import annotations

import pandas as pd
import pytest

from desensitize import Keyring, apply
from desensitize.profile import profile
from desensitize.suggest import core_columns, suggest
from examples.generate_city_data import generate

KEYS = Keyring(b"suggest-test-key-0123456789abcde")
CORE = ["birth_date", "gender", "district"]


@pytest.fixture(scope="module")
def citizens() -> pd.DataFrame:
    # The columns the gate counts under the suggestion (the identifiers become tokens,
    # which it leaves out), so the test spends no time on keyed tokens.
    frame = generate("citizens", 24_000, seed=3)
    return frame[["birth_date", "gender", "district", "address", "household_size"]]


def _released(frame: pd.DataFrame, policy: dict) -> dict[str, dict]:
    return apply(frame, policy, KEYS).report.k_anonymity["levels"]


def test_the_suggested_policy_keeps_birth_year_district_and_gender_at_the_finest_levels_that_pass(
    citizens: pd.DataFrame,
) -> None:
    found = profile(citizens, random_state=0)  # kinds from a sample, the plan on every row
    assert core_columns(found) == CORE
    as_profiled = _released(citizens, found.suggested_policy())
    assert as_profiled["birth_date"]["generalization"] == "decade"  # household size kept raw

    suggestion = suggest(found, citizens, rows=len(citizens))
    levels = _released(citizens, suggestion.policy)
    assert {n: levels[n]["generalization"] for n in CORE} == {
        "birth_date": "year",
        "gender": "keep",
        "district": "keep",
    }
    assert [d["column"] for d in suggestion.dropped] == ["household_size"]
    assert "birth_date" in suggestion.dropped[0]["reason"]
    # the whole table was planned: the report is the release's own, not an estimate
    utility = suggestion.utility
    assert utility["passes"] and not utility["estimate"] and utility["k_on_sample"] == 5
    assert utility["levels"] == {n: v["generalization"] for n, v in levels.items()}
    assert 0 <= utility["suppressed_share"] <= 0.05
    assert utility["quality"] == "loss" and 0 <= utility["cost"] < 0.05
    measures = utility["measures"]
    assert set(measures) == {"loss", "entropy", "discernibility", "aecs"}
    assert measures["loss"] == pytest.approx(utility["cost"]) and measures["aecs"] >= 5


def test_a_column_is_left_out_only_when_it_holds_the_core_columns_back(
    citizens: pd.DataFrame,
) -> None:
    small = citizens.head(1_000)  # too few rows for any birth date: nothing to gain
    found = profile(small, random_state=0)
    suggestion = suggest(found, small, rows=len(small))
    assert suggestion.dropped == []
    assert suggestion.policy == found.suggested_policy()
    assert suggestion.utility["levels"]["household_size"] == "*"


def test_a_plan_on_a_sample_says_it_is_an_estimate_and_asks_at_least_two_rows_a_class(
    citizens: pd.DataFrame,
) -> None:
    sample = citizens.head(6_000)
    found = profile(sample, random_state=0)
    suggestion = suggest(found, sample, rows=10 * len(citizens))
    utility = suggestion.utility
    assert utility["estimate"] and utility["planned_on_rows"] == 6_000
    assert utility["rows"] == 240_000 and utility["k_on_sample"] == 2
