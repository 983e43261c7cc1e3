"""`apply` in memory: what reaches the output, what the report says, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from desensitize import DataError, Desensitized, Keyring, Policy, PolicyError, apply
from desensitize.engine import class_sizes, risk_from_sizes
from desensitize.kanon import ComboCounts
from desensitize.risk import risk_report
from examples.generate_city_data import generate_citizens

from .conftest import SECRET

IDENTIFIERS = ["citizen_id", "name", "resident_id", "mobile", "email", "address", "card_id"]


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    frame = generate_citizens(2000, seed=5)
    frame.loc[7, ["name", "resident_id", "mobile"]] = [
        "测试员甲",
        "110105198703141234",
        "13912345678",
    ]
    return frame


def test_raw_identifiers_never_reach_the_output(
    planted: pd.DataFrame, citizen_policy: dict, keys: Keyring
) -> None:
    frame = apply(planted, citizen_policy, keys).frame
    cells = set(frame.astype(str).to_numpy().ravel())
    for column in IDENTIFIERS:
        assert not cells & set(planted[column].astype(str)), column
    text = frame.to_csv(index=False)
    for marker in ("测试员甲", "110105198703141234", "13912345678"):
        assert marker not in text


def test_sensitive_values_are_noised_row_by_row(
    planted: pd.DataFrame, citizen_policy: dict, keys: Keyring
) -> None:
    frame = apply(planted, citizen_policy, keys).frame
    raw = planted.loc[frame.index, "monthly_income"].to_numpy(dtype=float)
    assert np.mean(frame["monthly_income"].to_numpy() == raw) < 0.01


def test_columns_the_policy_does_not_name_are_dropped(people: pd.DataFrame, keys: Keyring) -> None:
    policy = {"columns": {"district": {"class": "attribute"}, "notes": {"class": "drop"}}}
    result = apply(people, policy, keys)
    assert list(result.frame.columns) == ["district"]
    assert result.report.dropped_columns == ["notes"]


def test_the_output_keeps_the_input_index_of_kept_rows(people: pd.DataFrame, keys: Keyring) -> None:
    indexed = people.set_index(pd.Index([f"r{i}" for i in range(len(people))]))
    policy = {
        "columns": {
            "mobile": {
                "class": "identifier",
                "rule": "suppress",
                "where": {"matches": "0$"},
                "drop_rows": True,
            },
            "district": {"class": "attribute"},
        }
    }
    with pytest.raises(PolicyError, match="column 'mobile': rule 'suppress' releases raw"):
        apply(indexed, policy, keys)
    policy["columns"]["mobile"]["class"] = "attribute"
    result = apply(indexed, policy, keys)
    assert list(result.frame.index) == [f"r{i}" for i in range(1, 12) if i != 10]
    assert result.report.rows_dropped_by_rules == 2


def test_an_empty_table_gives_an_empty_result_with_the_output_columns(
    people: pd.DataFrame, issue_policy: dict, keys: Keyring
) -> None:
    result = apply(people.iloc[:0], issue_policy, keys)
    assert isinstance(result, Desensitized)
    assert list(result.frame.columns) == Policy.from_dict(issue_policy).output_columns
    assert len(result.frame) == 0 and result.report.rows_in == 0


def test_the_report_is_json_safe_and_free_of_key_material(
    people: pd.DataFrame, issue_policy: dict, keys: Keyring
) -> None:
    policy = {**issue_policy, "k": 2, "l_diversity": {"column": "diagnosis", "l": 2}}
    report = apply(people, policy, keys).report
    text = json.dumps(report.to_dict(), ensure_ascii=False)
    assert SECRET.hex() not in text and SECRET.decode() not in text
    for column in ("name", "address", "income"):
        label = Policy.from_dict(policy).column(column).rule.key_label
        assert keys.derive(label).hex() not in text
        assert report.columns[column]["key_id"] == keys.id_for(label)
    assert report.policy_hash == Policy.from_dict(policy).hash()
    assert report.key_id == keys.key_id
    # A mask keeps raw characters, so the gate generalizes it like any quasi-identifier.
    assert report.columns["resident_id"]["class"] == "identifier"
    assert report.columns["resident_id"]["generalization"].startswith(("mask", "*"))
    assert report.risk_before["rows"] == 12 and "utility" in report.to_dict()


def test_the_report_carries_risk_and_utility(
    planted: pd.DataFrame, citizen_policy: dict, keys: Keyring
) -> None:
    report = apply(planted, citizen_policy, keys).report.to_dict()
    assert report["risk_before"]["max_risk"] == 1.0
    assert report["risk_after"]["max_risk"] <= 1 / 5
    utility = {c["column"]: c for c in report["utility"]["columns"]}
    assert set(utility) == {"birth_date", "gender", "district", "household_size", "monthly_income"}
    assert utility["gender"]["changed"] <= 0.05  # only suppressed rows differ
    assert utility["monthly_income"]["mae"] > 0


def test_keys_may_be_given_as_bytes(people: pd.DataFrame, issue_policy: dict) -> None:
    policy = {**issue_policy, "k": 2, "l_diversity": None}
    policy.pop("l_diversity")
    by_bytes = apply(people, policy, SECRET).frame
    by_keyring = apply(people, Policy.from_dict(policy), Keyring(SECRET)).frame
    pd.testing.assert_frame_equal(by_bytes, by_keyring)


def test_linked_columns_share_tokens_across_tables(keys: Keyring) -> None:
    trips = pd.DataFrame({"rider": ["C1", "C2"]})
    people = pd.DataFrame({"citizen": ["C2", "C3"]})
    link = {"class": "identifier", "rule": "token", "link": "citizen"}
    a = apply(trips, {"columns": {"rider": link}}, keys).frame["rider"]
    b = apply(people, {"columns": {"citizen": link}}, keys).frame["citizen"]
    assert a[1] == b[0] and a[0] != b[1]


def test_a_missing_column_is_named(people: pd.DataFrame, issue_policy: dict, keys: Keyring) -> None:
    with pytest.raises(PolicyError, match="column 'address': named by the policy but missing"):
        apply(people.drop(columns="address"), issue_policy, keys)


def test_a_rule_that_does_not_fit_the_data_is_named(people: pd.DataFrame, keys: Keyring) -> None:
    policy = {
        "columns": {
            "name": {"class": "sensitive", "rule": "noise", "epsilon": 1.0, "bounds": [0, 1]}
        }
    }
    with pytest.raises(PolicyError, match="column 'name': rule 'noise' needs a numeric column"):
        apply(people, policy, keys)


def test_a_column_of_mixed_types_is_named_without_its_values(keys: Keyring) -> None:
    frame = pd.DataFrame({"mobile": ["13812345678", 13912345678]})
    policy = {"columns": {"mobile": {"class": "identifier", "rule": "token"}}}
    with pytest.raises(DataError, match="column 'mobile': values of mixed types") as caught:
        apply(frame, policy, keys)
    assert "1381234" not in str(caught.value) and "1391234" not in str(caught.value)


def test_apply_is_deterministic_for_one_key_and_differs_for_another(
    people: pd.DataFrame, issue_policy: dict, keys: Keyring, other_keys: Keyring
) -> None:
    policy = {**issue_policy, "k": 2, "l_diversity": {"column": "diagnosis", "l": 2}}
    first, again = apply(people, policy, keys).frame, apply(people, policy, keys).frame
    pd.testing.assert_frame_equal(first, again)
    other = apply(people, policy, other_keys).frame
    assert not first["name"].equals(other["name"])
    assert not first["income"].equals(other["income"])


@pytest.mark.parametrize("rows", [0, 1, 7, 500])
@pytest.mark.parametrize("qis", [[], ["a"], ["a", "b"]])
def test_risk_from_class_sizes_equals_risk_report_on_rows(rows: int, qis: list[str]) -> None:
    rng = np.random.default_rng(rows)
    frame = pd.DataFrame({"a": rng.integers(0, 9, rows), "b": rng.choice(["x", None], rows)})
    counts = ComboCounts(qis)
    counts.add(pa.Table.from_pandas(frame[qis], preserve_index=False))
    sizes = class_sizes(counts, qis, rows)
    assert risk_from_sizes(sizes, qis, 3) == risk_report(frame, qis, 3).to_dict()


def test_an_arrow_table_goes_through_without_pandas(
    people: pd.DataFrame, issue_policy: dict, keys: Keyring
) -> None:
    policy = {**issue_policy, "k": 2, "l_diversity": {"column": "diagnosis", "l": 2}}
    from_frame = apply(people, policy, keys)
    from_table = apply(pa.Table.from_pandas(people, preserve_index=False), policy, keys)
    assert from_table.table.equals(from_frame.table)
    assert from_table.report == from_frame.report
    pd.testing.assert_frame_equal(from_table.frame, from_frame.frame.reset_index(drop=True))


def test_other_inputs_are_refused(issue_policy: dict, keys: Keyring) -> None:
    with pytest.raises(TypeError, match="expected a pandas DataFrame or Arrow table, got list"):
        apply([], issue_policy, keys)  # type: ignore[arg-type]


def test_risk_before_and_after_match_risk_report(
    planted: pd.DataFrame, citizen_policy: dict, keys: Keyring
) -> None:
    result = apply(planted, citizen_policy, keys)
    qis = Policy.from_dict(citizen_policy).released_quasi_identifiers
    assert result.report.risk_before == risk_report(planted, qis, 5).to_dict()
    assert result.report.risk_after == risk_report(result.frame, qis, 5).to_dict()
