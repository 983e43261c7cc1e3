"""Profiling a table and the policy it suggests."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from desensitize.errors import DataError
from desensitize.policy import Policy
from desensitize.profile import profile


def test_citizen_table_profile_suggests_the_expected_policy(citizens_small):
    policy = profile(citizens_small).suggested_policy(k=5)
    columns = policy["columns"]
    assert policy["k"] == 5
    assert columns["resident_id"] == {
        "class": "identifier",
        "rule": "mask",
        "preset": "cn_resident_id",
    }
    assert columns["mobile"] == {"class": "identifier", "rule": "mask", "preset": "cn_mobile"}
    assert columns["email"] == {"class": "identifier", "rule": "mask", "preset": "email"}
    assert columns["name"] == {"class": "identifier", "rule": "token"}
    assert columns["citizen_id"] == columns["card_id"] == {"class": "identifier", "rule": "token"}
    assert columns["address"] == {"class": "identifier", "rule": "fake", "kind": "address"}
    assert columns["birth_date"] == {
        "class": "quasi_identifier",
        "rule": "generalize",
        "to": "year",
    }
    for qi in ("gender", "district", "household_size"):
        assert columns[qi] == {"class": "quasi_identifier", "rule": "keep"}
    income = columns["monthly_income"]
    assert (income["class"], income["rule"], income["epsilon"]) == ("sensitive", "noise", 1.0)
    low, high = income["bounds"]
    assert low == 0 and 20_000 <= high <= 60_000


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


def test_sampling_is_seeded_so_profiles_repeat(citizens_small):
    first = profile(citizens_small, sample_rows=300).to_dict()
    assert profile(citizens_small, sample_rows=300).to_dict() == first


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
    assert bus["bus_id"].suggestion["rule"] == "mask"
    trips = profile(city_tables["transit_trips"])
    assert trips["boarding_time"].suggestion["to"] == "hour"
    assert trips["fare_fen"].classification == "sensitive"
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


def test_suggested_policies_of_every_city_table_load_as_policies(city_tables):
    for df in city_tables.values():
        policy = Policy.from_dict(profile(df).suggested_policy(k=3))
        assert policy.k == 3
