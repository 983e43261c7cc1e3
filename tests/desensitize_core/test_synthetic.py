"""Synthetic samples: the policy's output columns and formats, from kinds alone, seeded."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from desensitize import Policy, synthetic_sample
from desensitize.detect import is_resident_id, luhn_valid
from desensitize.detect.contact import is_cn_mobile
from desensitize.synthetic import synthetic_inputs

KEY = b"synthetic-sample-test-key-32byte"

# What a profile records per column: kinds, dtypes and counts, never a cell value.
PROFILE: dict[str, Any] = {
    "rows": 1000,
    "sampled_rows": 1000,
    "columns": [
        {"name": "citizen_id", "dtype": "object", "kind": "code", "distinct": 1000},
        {"name": "name", "dtype": "object", "kind": "cn_name", "distinct": 990},
        {"name": "resident_id", "dtype": "object", "kind": "cn_resident_id", "distinct": 1000},
        {"name": "mobile", "dtype": "object", "kind": "cn_mobile", "distinct": 1000},
        {"name": "email", "dtype": "object", "kind": "email", "distinct": 1000},
        {"name": "card", "dtype": "object", "kind": "bank_card", "distinct": 1000},
        {"name": "address", "dtype": "object", "kind": "cn_address", "distinct": 1000},
        {"name": "birth_date", "dtype": "datetime64[ns]", "kind": "date", "distinct": 900},
        {"name": "seen_at", "dtype": "object", "kind": "datetime", "distinct": 1000},
        {"name": "district", "dtype": "object", "kind": "category", "distinct": 10},
        {"name": "lane", "dtype": "object", "kind": "category", "values": ["east", "west"]},
        {"name": "age", "dtype": "int64", "kind": "age", "distinct": 80},
        {"name": "lat", "dtype": "float64", "kind": "latitude", "distinct": 1000},
        {"name": "income", "dtype": "int64", "kind": "amount", "distinct": 700},
        {"name": "notes", "dtype": "object", "kind": "free_text", "distinct": 1000},
    ],
}
POLICY: dict[str, Any] = {
    "k": 5,
    "l_diversity": {"column": "income", "l": 2},
    "columns": {
        "citizen_id": {"class": "identifier", "rule": "token", "prefix": "cz_"},
        "name": {"class": "identifier", "rule": "mask", "preset": "cn_name"},
        "resident_id": {"class": "identifier", "rule": "mask", "preset": "cn_resident_id"},
        "mobile": {"class": "identifier", "rule": "mask", "preset": "cn_mobile"},
        "email": {"class": "identifier", "rule": "mask", "preset": "email"},
        "card": {"class": "identifier", "rule": "mask", "preset": "bank_card"},
        "address": {"class": "identifier", "rule": "fake", "kind": "address"},
        "birth_date": {"class": "quasi_identifier", "rule": "generalize", "to": "year"},
        "seen_at": {"class": "attribute", "rule": "generalize", "to": "hour"},
        "district": {"class": "quasi_identifier", "rule": "keep"},
        "lane": {"class": "attribute", "rule": "keep"},
        "age": {"class": "quasi_identifier", "rule": "generalize", "width": 10},
        "lat": {"class": "quasi_identifier", "rule": "generalize", "decimals": 2},
        "income": {"class": "sensitive", "rule": "noise", "epsilon": 1.0, "bounds": [0, 5000]},
        "notes": {"class": "drop"},
    },
}
ROWS = 40


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return synthetic_sample(POLICY, PROFILE, rows=ROWS, seed=11, key=KEY)


def test_the_sample_has_exactly_the_policys_output_columns(sample):
    assert list(sample.columns) == Policy.from_dict(POLICY).output_columns
    assert len(sample) == ROWS  # k and l suppress no synthetic row


@pytest.mark.parametrize(
    ("column", "pattern"),
    [
        ("citizen_id", r"cz_[0-9a-f]{16}"),
        ("name", r"\w\*+"),
        ("resident_id", r"[1-6][0-9]{5}\*{8}[0-9]{3}[0-9X]"),
        ("mobile", r"1[3-9][0-9]\*{4}[0-9]{4}"),
        ("email", r"\w\*{3}@[\w.-]+"),
        ("card", r"\*{12}[0-9]{4}"),
        ("birth_date", r"(19[4-9][0-9]|200[0-8])"),
        ("seen_at", r"20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]"),
        ("district", r"<district ([1-9]|10)>"),
        ("lane", r"east|west"),
        ("age", r"\[[0-9]+, [0-9]+\)"),
    ],
)
def test_each_column_has_its_rules_output_format(sample, column, pattern):
    values = sample[column].astype(str)
    assert values.str.fullmatch(pattern).all(), values.head().tolist()


def test_numbers_stay_within_the_declared_bounds(sample):
    assert sample["income"].between(0, 5000).all()
    assert sample["lat"].between(18, 53).all()


def test_inputs_are_plausible_values_of_each_detected_kind():
    inputs = synthetic_inputs(POLICY, PROFILE, rows=200, seed=3)
    assert is_resident_id(inputs["resident_id"]).all()
    assert is_cn_mobile(inputs["mobile"]).all()
    assert luhn_valid(inputs["card"]).all()
    assert inputs["notes"].isna().all()  # a dropped column is never even made up


def test_the_same_seed_and_key_give_the_same_sample(sample):
    again = synthetic_sample(POLICY, PROFILE, rows=ROWS, seed=11, key=KEY)
    pd.testing.assert_frame_equal(sample, again)
    other = synthetic_sample(POLICY, PROFILE, rows=ROWS, seed=12, key=KEY)
    assert not other["resident_id"].equals(sample["resident_id"])


def test_without_a_key_keyed_columns_change_and_the_rest_do_not(sample):
    fresh = synthetic_sample(POLICY, PROFILE, rows=ROWS, seed=11)
    assert not fresh["citizen_id"].equals(sample["citizen_id"])
    for column in ("resident_id", "mobile", "birth_date", "district", "age"):
        assert fresh[column].equals(sample[column]), column


def test_a_profile_without_kinds_still_gives_the_policys_formats():
    policy = {
        "columns": {
            "id": {"class": "identifier", "rule": "token"},
            "zone": {"class": "quasi_identifier", "rule": "generalize", "prefix": 2},
            "fare": {"class": "attribute", "rule": "top_bottom_code", "bounds": [2, 10]},
        }
    }
    sample = synthetic_sample(policy, {"columns": []}, rows=10, seed=0)
    assert sample["id"].str.fullmatch(r"tk_[0-9a-f]{16}").all()
    assert sample["fare"].between(2, 10).all()
    assert list(sample.columns) == ["id", "zone", "fare"]


@pytest.mark.parametrize("rows", [0, -1, True, 2.5])
def test_rows_must_be_a_positive_integer(rows):
    with pytest.raises(ValueError, match="rows must be a positive integer"):
        synthetic_sample(POLICY, PROFILE, rows=rows)


def test_a_sensitive_column_kept_under_l_diversity_still_gets_a_sample() -> None:
    policy = {
        "k": 5,
        "l_diversity": {"column": "diagnosis", "l": 2},
        "privacy_unit": {"column": "pid"},
        "columns": {
            "pid": {"class": "identifier", "rule": "token"},
            "diagnosis": {"class": "sensitive", "rule": "keep"},
        },
    }
    profile = {"columns": [{"name": "diagnosis", "kind": "category"}]}
    sample = synthetic_sample(policy, profile, rows=4, seed=1)
    assert list(sample.columns) == ["pid", "diagnosis"] and len(sample) == 4
