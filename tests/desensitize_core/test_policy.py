"""Policies load from dicts and files, validate at load, and name the column at fault."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import yaml

from desensitize import Policy, PolicyError


def test_the_issue_policy_loads(issue_policy: dict) -> None:
    policy = Policy.from_dict(issue_policy)
    assert policy.k == 5
    assert policy.l_diversity.column == "diagnosis" and policy.l_diversity.l == 3
    assert policy.quasi_identifiers == ["birth_date", "district", "gender"]
    assert "notes" not in policy.output_columns
    assert policy.column("address").rule.name == "fake"


def test_to_dict_round_trips_and_hash_is_stable(issue_policy: dict) -> None:
    policy = Policy.from_dict(issue_policy)
    again = Policy.from_dict(policy.to_dict())
    assert again.to_dict() == policy.to_dict()
    assert again.hash() == policy.hash()
    assert len(policy.hash()) == 64 and int(policy.hash(), 16) >= 0


def test_hash_changes_with_any_setting(issue_policy: dict) -> None:
    changed = copy.deepcopy(issue_policy)
    changed["columns"]["income"]["epsilon"] = 0.5
    assert Policy.from_dict(changed).hash() != Policy.from_dict(issue_policy).hash()


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_policies_load_from_json_and_yaml_files(
    tmp_path: Path, issue_policy: dict, suffix: str
) -> None:
    path = tmp_path / f"policy{suffix}"
    dump = json.dumps if suffix == ".json" else yaml.safe_dump
    path.write_text(dump(issue_policy), encoding="utf-8")
    assert Policy.from_file(path).hash() == Policy.from_dict(issue_policy).hash()


def test_other_file_types_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"must be \.json, \.yaml or \.yml"):
        Policy.from_file(path)


def _one(spec: dict, **policy: object) -> dict:
    return {**policy, "columns": {"x": spec}}


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (_one({"class": "secret"}), "column 'x': 'class' must be one of"),
        (_one({"class": "identifier"}), "column 'x': class 'identifier' needs a 'rule'"),
        (_one({"class": "attribute", "rule": "blur"}), "column 'x': unknown rule 'blur'"),
        (_one({"class": "identifier", "rule": "keep"}), "column 'x': rule 'keep' releases raw"),
        (_one({"class": "sensitive", "rule": "keep"}), "only the l-diversity column may"),
        (
            _one({"class": "sensitive", "rule": "top_bottom_code", "bounds": [0, 1]}),
            "column 'x': rule 'top_bottom_code' releases raw values",
        ),
        (
            _one({"class": "identifier", "rule": "generalize", "hierarchy": [{"a": "b"}]}),
            "column 'x': rule 'generalize' releases raw values",
        ),
        (
            _one({"class": "sensitive", "rule": "noise", "bounds": [0, 10]}),
            "column 'x': rule 'noise': parameter 'epsilon' is required",
        ),
        (
            _one({"class": "sensitive", "rule": "noise", "epsilon": 1.0}),
            "column 'x': rule 'noise': parameter 'bounds' .* is required",
        ),
        (
            _one({"class": "sensitive", "rule": "noise", "epsilon": -1, "bounds": [0, 1]}),
            "parameter 'epsilon' must be positive",
        ),
        (
            _one({"class": "sensitive", "rule": "noise", "epsilon": 1, "bounds": [5, 1]}),
            "parameter 'bounds' needs finite lower < upper",
        ),
        (
            _one(
                {
                    "class": "sensitive",
                    "rule": "noise",
                    "epsilon": 1,
                    "bounds": [0, 1],
                    "mechanism": "gaussian",
                }
            ),
            "parameter 'delta' in \\(0, 1\\) is required",
        ),
        (_one({"class": "attribute", "rule": "mask", "keep_frist": 2}), "unknown parameter"),
        (_one({"class": "attribute", "rule": "mask", "preset": "x"}), "parameter 'preset'"),
        (_one({"class": "identifier", "rule": "fake"}), "parameter 'kind' is required"),
        (_one({"class": "attribute", "rule": "generalize"}), "needs exactly one of"),
        (
            _one({"class": "attribute", "rule": "generalize", "width": 5, "to": "year"}),
            "needs exactly one of",
        ),
        (
            _one({"class": "attribute", "rule": "generalize", "edges": [3, 1]}),
            "'edges' must be a non-empty increasing list",
        ),
        (_one({"class": "attribute", "rule": "generalize", "to": "week"}), "parameter 'to'"),
        (_one({"class": "attribute", "rule": "top_bottom_code"}), "needs exactly one of 'bounds'"),
        (_one({"class": "attribute", "rule": "keep", "link": "g"}), "only keyed rules"),
        (_one({"class": "drop", "rule": "token"}), "class 'drop' takes no settings"),
        (_one({"class": "quasi_identifier"}, k=0), "'k' must be an integer >= 1"),
        (_one({"class": "quasi_identifier"}, max_suppression=1.5), "'max_suppression'"),
        (
            _one({"class": "quasi_identifier"}, l_diversity={"column": "x", "l": 2}),
            "column 'x': the l-diversity column must not be a quasi_identifier",
        ),
        (
            _one({"class": "attribute", "rule": "top_bottom_code", "quantiles": [0.01, 0.99]}, k=5),
            "column 'x': rule 'top_bottom_code' with quantile bounds is released as a quasi",
        ),
        (_one({"class": "drop"}, privacy_unit="x"), "'privacy_unit' must be {'column': name}"),
        (
            _one({"class": "drop"}, privacy_unit={"column": "x", "max_rows": 0}),
            "column 'x': 'max_rows' of privacy_unit must be an integer >= 1",
        ),
        (
            _one({"class": "quasi_identifier"}, k=5, privacy_unit={"column": "x"}),
            "column 'x': the privacy unit names persons: token it or drop it",
        ),
        ({"columns": {}}, "'columns' must be a non-empty mapping"),
        ({"columns": {"x": {"class": "drop"}}, "kk": 5}, "unknown policy key"),
    ],
)
def test_bad_policies_fail_at_load_naming_column_and_problem(policy: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_dict(policy)


@pytest.mark.parametrize("epsilon", [1e5, 10.001, 0.0099, 1e-300])
def test_noise_epsilon_outside_the_range_is_refused(epsilon: float) -> None:
    spec = {"class": "sensitive", "rule": "noise", "epsilon": epsilon, "bounds": [0, 100]}
    with pytest.raises(PolicyError, match="column 'x': .*'epsilon' must be between 0.01 and 10"):
        Policy.from_dict(_one(spec))


@pytest.mark.parametrize("epsilon", [0.01, 1, 10])
def test_noise_epsilon_at_the_ends_of_the_range_is_accepted(epsilon: float) -> None:
    spec = {"class": "sensitive", "rule": "noise", "epsilon": epsilon, "bounds": [0, 100]}
    assert Policy.from_dict(_one(spec)).column("x").rule.epsilon == epsilon


def test_policy_errors_carry_column_and_problem() -> None:
    with pytest.raises(PolicyError) as caught:
        Policy.from_dict(_one({"class": "sensitive", "rule": "noise", "bounds": [0, 1]}))
    assert caught.value.column == "x"
    assert "epsilon" in caught.value.problem


def test_validate_for_names_a_missing_column(issue_policy: dict, people: pd.DataFrame) -> None:
    policy = Policy.from_dict(issue_policy)
    with pytest.raises(PolicyError, match="column 'mobile': named by the policy but missing"):
        policy.validate_for(people.drop(columns="mobile"))


def test_validate_for_names_a_missing_l_diversity_column(issue_policy: dict) -> None:
    schema = pa.schema([(name, pa.string()) for name in issue_policy["columns"]])
    with pytest.raises(PolicyError, match="column 'diagnosis': named by the policy but missing"):
        Policy.from_dict(issue_policy).validate_for(schema)


@pytest.mark.parametrize(
    ("spec", "dtype", "message"),
    [
        (
            {"class": "sensitive", "rule": "noise", "epsilon": 1, "bounds": [0, 1]},
            pa.string(),
            "column 'x': rule 'noise' needs a numeric column, got string",
        ),
        (
            {"class": "attribute", "rule": "top_bottom_code", "bounds": [0, 1]},
            pa.timestamp("s"),
            "rule 'top_bottom_code' needs a numeric column",
        ),
        (
            {"class": "quasi_identifier", "rule": "generalize", "width": 10},
            pa.string(),
            "rule 'generalize' needs a numeric column",
        ),
        (
            {"class": "quasi_identifier", "rule": "generalize", "to": "year"},
            pa.int64(),
            "rule 'generalize' needs a string or temporal column, got int64",
        ),
        (
            {"class": "identifier", "rule": "mask", "preset": "cn_mobile"},
            pa.date32(),
            "rule 'mask' needs a numeric or string column",
        ),
    ],
)
def test_validate_for_refuses_a_rule_that_does_not_fit_the_column_type(
    spec: dict, dtype: pa.DataType, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_dict(_one(spec)).validate_for(pa.schema([("x", dtype)]))


def test_validate_for_accepts_a_fitting_dataframe(issue_policy: dict, people) -> None:
    Policy.from_dict(issue_policy).validate_for(people)


def test_a_sensitive_column_goes_out_as_it_is_only_under_l_diversity() -> None:
    policy = Policy.from_dict(
        {
            "k": 2,
            "l_diversity": {"column": "diagnosis", "l": 2},
            "columns": {
                "diagnosis": {"class": "sensitive", "rule": "keep"},
                "district": {"class": "quasi_identifier"},
            },
        }
    )
    assert policy.column("diagnosis").rule.name == "keep"
    assert policy.released_quasi_identifiers == ["district"]


@pytest.mark.parametrize(
    ("spec", "counted"),
    [
        ({"class": "identifier", "rule": "mask", "preset": "cn_resident_id"}, True),
        ({"class": "attribute", "rule": "keep"}, True),
        ({"class": "attribute", "rule": "top_bottom_code", "bounds": [0, 9]}, True),
        ({"class": "identifier", "rule": "token"}, False),
        ({"class": "identifier", "rule": "fake", "kind": "name"}, False),
        ({"class": "attribute", "rule": "noise", "epsilon": 1.0, "bounds": [0, 9]}, False),
        ({"class": "attribute", "rule": "noise", "epsilon": 5.0, "bounds": [0, 9]}, True),
    ],
)
def test_every_released_column_but_pseudonyms_and_private_noise_is_counted(
    spec: dict, counted: bool
) -> None:
    policy = Policy.from_dict({"k": 5, "columns": {"x": spec}})
    assert ("x" in policy.released_quasi_identifiers) is counted


def test_the_privacy_unit_round_trips() -> None:
    body = {
        "k": 5,
        "privacy_unit": {"column": "student_id", "max_rows": 40},
        "columns": {"student_id": {"class": "identifier", "rule": "token"}},
    }
    policy = Policy.from_dict(body)
    assert policy.privacy_unit.max_rows == 40 and policy.linked
    assert Policy.from_dict(policy.to_dict()).hash() == policy.hash()
    assert policy.to_dict()["privacy_unit"] == body["privacy_unit"]
