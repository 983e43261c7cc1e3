"""Profiling a table and the policy it suggests."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from desensitize.dp_bounds import nice_grid
from desensitize.errors import DataError
from desensitize.policy import Policy
from desensitize.profile import BOUNDS_EPSILON, profile

TOKEN = {"class": "identifier", "rule": "token"}
NICE = set(nice_grid(-2, 10).tolist())


@pytest.fixture(scope="module")
def citizens_diagnosed(citizens_small) -> pd.DataFrame:
    """Citizens with a diagnosis and a religion, two sensitive categorical columns."""
    rng = np.random.default_rng(11)
    df = citizens_small.copy()
    df["diagnosis"] = rng.choice(["高血压", "糖尿病", "感冒", "骨折", "哮喘"], len(df))
    df["宗教"] = rng.choice(["无", "佛教", "基督教"], len(df))
    return df


def _raw_rounded_bounds(values: np.ndarray) -> list[float]:
    """What the suggestion used to give: raw 1%/99% quantiles to two significant digits."""

    def round_out(value: float, *, down: bool) -> float:
        unit = 10.0 ** (math.floor(math.log10(abs(value))) - 1)
        return float((math.floor if down else math.ceil)(value / unit) * unit)

    low = 0.0 if values.min() >= 0 else round_out(np.quantile(values, 0.01), down=True)
    return [low, round_out(np.quantile(values, 0.99), down=False)]


def test_citizen_table_profile_suggests_a_safe_policy(citizens_diagnosed):
    found = profile(citizens_diagnosed, random_state=1)
    policy = found.suggested_policy(k=5)
    columns = policy["columns"]
    assert policy["k"] == 5
    # Every direct identifier is a keyed per-lease token, never a display mask.
    for identifier in ("resident_id", "mobile", "email", "name", "citizen_id", "card_id"):
        assert columns[identifier] == TOKEN, identifier
    assert columns["address"] == {"class": "quasi_identifier", "rule": "mask", "preset": "address"}
    assert columns["birth_date"] == {
        "class": "quasi_identifier",
        "rule": "generalize",
        "to": "year",
    }
    for qi in ("gender", "district", "household_size"):
        assert columns[qi] == {"class": "quasi_identifier", "rule": "keep"}
    # The first sensitive column is kept for l-diversity, a second one is dropped.
    assert columns["diagnosis"] == {"class": "sensitive", "rule": "keep"}
    assert policy["l_diversity"] == {"column": "diagnosis", "l": 2}
    assert columns["宗教"] == {"class": "drop"}
    income = columns["monthly_income"]
    assert (income["class"], income["rule"], income["epsilon"]) == ("attribute", "noise", 1.0)
    low, high = income["bounds"]
    assert low == 0 and high in NICE and 20_000 <= high <= 200_000
    # Citizens are one row each: no privacy unit.
    assert found.privacy_unit is None and "privacy_unit" not in policy
    report = found.to_dict()
    assert report["bounds_epsilon"] == BOUNDS_EPSILON == 0.05
    assert report["privacy_unit"] is None
    by_name = {c["name"]: c for c in report["columns"]}
    assert by_name["monthly_income"]["bounds_epsilon"] == BOUNDS_EPSILON
    assert by_name["district"]["bounds_epsilon"] == 0


def test_noise_bounds_are_dp_estimates_not_the_data_quantiles(citizens_small):
    income = citizens_small["monthly_income"].to_numpy(dtype=float)
    raw = _raw_rounded_bounds(income)
    percentiles = set(np.quantile(income, np.linspace(0, 1, 101)).tolist())
    highs = set()
    for seed in range(12):
        low, high = profile(citizens_small, random_state=seed).suggested_policy()["columns"][
            "monthly_income"
        ]["bounds"]
        assert [low, high] != raw
        assert high not in percentiles and high in NICE
        highs.add(high)
    # The estimate is noisy: other seeds give other bounds.
    assert len(highs) > 1


def test_the_same_seed_repeats_the_suggestion(citizens_small):
    first = profile(citizens_small, sample_rows=300, random_state=5)
    again = profile(citizens_small, sample_rows=300, random_state=5)
    assert again.to_dict() == first.to_dict()
    assert again.suggested_policy() == first.suggested_policy()


def test_signed_numbers_get_two_bounds_from_the_signed_grid():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"delta": np.round(rng.normal(0, 300, 3_000), 3)})
    found = profile(df, random_state=0)
    assert found["delta"].kind == "number"
    low, high = found["delta"].suggestion["bounds"]
    assert low < 0 < high and -low in NICE and high in NICE


def _boardings(students: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per_student = 1 + rng.poisson(4, students)
    ids = np.repeat([f"S{i:06d}" for i in range(students)], per_student)
    rows = len(ids)
    return pd.DataFrame(
        {
            "student_id": ids,
            "school": rng.choice(["实验小学", "育才中学", "南山外国语"], rows),
            "fare_fen": rng.choice([0, 100, 200], rows),
        }
    )


def test_a_repeated_student_id_is_proposed_as_privacy_unit():
    df = _boardings(1_000)
    found = profile(df, random_state=2)
    assert found.privacy_unit == "student_id"
    policy = found.suggested_policy()
    max_rows = policy["privacy_unit"]["max_rows"]
    assert policy["privacy_unit"] == {"column": "student_id", "max_rows": max_rows}
    assert isinstance(max_rows, int) and 5 <= max_rows <= 30
    assert policy["columns"]["student_id"] == TOKEN
    unit = found.to_dict()["privacy_unit"]
    assert unit["column"] == "student_id"
    assert unit["rows_per_person_sampled"] == round(len(df) / 1_000, 2)
    # The profile's epsilon covers the rows-per-person estimate and the fare's bounds.
    assert found.to_dict()["bounds_epsilon"] == pytest.approx(unit["epsilon"] + BOUNDS_EPSILON)


@pytest.mark.parametrize("name", ["patient_id", "cardNo", "学号", "rider_id"])
def test_person_key_names_in_english_and_chinese(name):
    df = _boardings(600).rename(columns={"student_id": name})
    assert profile(df, random_state=0).privacy_unit == name


def test_a_table_of_distinct_persons_has_no_privacy_unit():
    df = _boardings(1_000).drop_duplicates("student_id")
    assert profile(df, random_state=0).privacy_unit is None
    # A repeated column that names no person is not a unit either.
    assert profile(_boardings(600).rename(columns={"student_id": "rider"})).privacy_unit is None


@pytest.mark.parametrize("name", ["诊断", "疾病", "病种", "民族", "zhenduan", "Religion"])
def test_sensitive_categorical_names_get_l_diversity(name):
    df = pd.DataFrame({"district": ["南山区", "福田区"] * 50, name: ["甲", "乙", "丙", "丁"] * 25})
    policy = profile(df).suggested_policy()
    assert policy["columns"][name] == {"class": "sensitive", "rule": "keep"}
    assert policy["l_diversity"] == {"column": name, "l": 2}
    assert policy["columns"]["district"] == {"class": "quasi_identifier", "rule": "keep"}


def test_profile_reports_kinds_shares_and_counts_without_cell_values(citizens_small):
    report = profile(citizens_small, sample_rows=500).to_dict()
    assert (report["rows"], report["sampled_rows"]) == (2_000, 500)
    by_name = {c["name"]: c for c in report["columns"]}
    assert by_name["resident_id"]["kind"] == "cn_resident_id"
    assert by_name["resident_id"]["share"] == 1.0
    assert by_name["gender"]["distinct"] == 2
    text = json.dumps(report, ensure_ascii=False)
    for column in ("resident_id", "mobile", "name", "email"):
        assert str(citizens_small[column].iloc[0]) not in text


def test_dirty_columns_report_their_share_and_nulls():
    df = pd.DataFrame({"phone": ["13800138000"] * 8 + ["unknown", None]})
    column = profile(df)["phone"]
    assert column.kind == "cn_mobile"
    assert column.share == pytest.approx(8 / 9)
    assert column.null_share == pytest.approx(0.1)


def test_other_kinds_get_their_rules(city_tables):
    bus = profile(city_tables["school_bus_gps"])
    assert bus["latitude"].suggestion == {
        "class": "quasi_identifier",
        "rule": "generalize",
        "decimals": 2,
    }
    assert bus["bus_id"].suggestion == TOKEN
    trips = profile(city_tables["transit_trips"])
    assert trips["boarding_time"].suggestion["to"] == "hour"
    assert trips["fare_fen"].classification == "attribute"
    assert trips["fare_fen"].suggestion["rule"] == "noise"
    ips = profile(pd.DataFrame({"client_ip": [f"10.0.{i}.{i * 3}" for i in range(30)]}))
    assert ips["client_ip"].suggestion == {
        "class": "quasi_identifier",
        "rule": "generalize",
        "prefix": 7,  # "10.0.1." is the shortest three-octet prefix
    }
    notes = profile(
        pd.DataFrame({"notes": [f"第{i}次回访，客户对服务总体满意，希望改进" for i in range(9)]})
    )
    assert notes["notes"].suggestion == {"class": "drop"}


def test_empty_table_profiles_every_column_as_empty():
    result = profile(pd.DataFrame({"a": pd.Series([], dtype=object), "b": []}))
    assert [c.kind for c in result.columns] == ["empty", "empty"]
    assert result.suggested_policy()["columns"]["a"] == {"class": "drop"}
    assert result.bounds_epsilon == 0


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ({"df": [1, 2]}, DataError, "expects a pandas DataFrame"),
        ({"sample_rows": 0}, ValueError, "sample_rows must be a positive integer"),
        ({"df": pd.DataFrame([[1, 2]], columns=["a", "a"])}, DataError, "must be unique"),
    ],
)
def test_profile_rejects_bad_input(args, error, match):
    kwargs = {"df": pd.DataFrame({"a": [1]}), **args}
    df = kwargs.pop("df")
    with pytest.raises(error, match=match):
        profile(df, **kwargs)


def test_suggested_policy_rejects_bad_k():
    with pytest.raises(ValueError, match="k must be a positive integer"):
        profile(pd.DataFrame({"a": [1]})).suggested_policy(k=0)


def test_suggested_policies_load_as_policies(city_tables, citizens_diagnosed):
    tables = [*city_tables.values(), citizens_diagnosed, _boardings(600)]
    for df in tables:
        policy = Policy.from_dict(profile(df, random_state=0).suggested_policy(k=3))
        assert policy.k == 3


def test_names_repeated_over_a_persons_rows_are_tokens_not_categories():
    df = pd.DataFrame(
        {
            "student_id": np.repeat([f"S{i:04d}" for i in range(20)], 10),
            "student_name": np.repeat(["汤晶", "王芳", "李伟", "张敏", "刘洋"] * 4, 10),
            "school_name": np.repeat(["实验小学", "育才中学"] * 10, 10),
        }
    )
    columns = profile(df, random_state=0).suggested_policy()["columns"]
    assert columns["student_name"] == TOKEN
    assert columns["school_name"] == {"class": "quasi_identifier", "rule": "keep"}
