"""CSV injection defence for extracts: cells and header names."""

from __future__ import annotations

import pandas as pd

from exchange.extract_writer import neutralise_formulas, neutralise_names

ATTACKS = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(1)", "\tx", "\rx", "＝1+1"]


def test_formula_cells_in_text_columns_get_an_apostrophe() -> None:
    frame = pd.DataFrame({"cell": [*ATTACKS, "plain", None], "n": range(-5, len(ATTACKS) - 3)})
    out = neutralise_formulas(frame)
    assert out["cell"].tolist()[: len(ATTACKS)] == ["'" + a for a in ATTACKS]
    assert out["cell"].tolist()[-2:] == ["plain", None]
    assert out["n"].iloc[0] == -5 and out["n"].dtype == frame["n"].dtype
    assert frame["cell"].iloc[0] == ATTACKS[0]  # the input is not changed


def test_numbers_dates_and_booleans_are_left_alone() -> None:
    frame = pd.DataFrame(
        {
            "n": [-5, 3],
            "x": [-1.5, 2.0],
            "b": [True, False],
            "t": pd.to_datetime(["2026-11-02", "2026-11-03"]),
        }
    )
    assert neutralise_formulas(frame) is frame


def test_neutralising_is_idempotent_and_covers_string_and_category_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "s": pd.array(["=1", "a", None], dtype="string"),
            "c": pd.Categorical(["@x", "y", "y"]),
            "o": [1, "-1", None],
        }
    )
    once = neutralise_formulas(frame)
    assert once["s"].tolist()[:2] == ["'=1", "a"] and str(once["s"].dtype) == "string"
    assert once["c"].tolist() == ["'@x", "y", "y"] and once["c"].dtype == "category"
    assert once["o"].tolist()[:2] == [1, "'-1"]
    pd.testing.assert_frame_equal(neutralise_formulas(once), once)


def test_header_names_are_neutralised_like_cells() -> None:
    assert neutralise_names([*ATTACKS, "plain", 3]) == [*("'" + a for a in ATTACKS), "plain", "3"]
