"""Hierarchies: ARX's CSV files imported, one-level ones allowed, missing values an error."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from desensitize import DataError, Keyring, PolicyError, apply
from desensitize.hierarchy_csv import hierarchy_from_arx, read_arx_hierarchy
from exchange.cli import app

KEYS = Keyring(b"hierarchy-test-key-0123456789abc")
AGES = "\n".join(
    f"{age};[{age // 10 * 10}, {age // 10 * 10 + 10}[;[{age // 20 * 20}, {age // 20 * 20 + 20}[;*"
    for age in range(17, 91)
)


def _policy(column: str, hierarchy: list[dict[str, str]], cls: str = "quasi_identifier"):
    entry = {"class": cls, "rule": "generalize", "hierarchy": hierarchy, "level": 1}
    return {"k": 2, "columns": {column: entry}}


def test_an_arx_interval_hierarchy_becomes_maps_one_per_level_without_the_final_star() -> None:
    maps = hierarchy_from_arx(AGES, column="age")
    assert len(maps) == 2
    assert maps[0]["34"] == "[30, 40[" and maps[1]["[30, 40["] == "[20, 40["
    frame = pd.DataFrame({"age": [str(a) for a in (34, 35, 36, 61, 62, 68)]})
    out = apply(frame, _policy("age", maps), KEYS).table.column("age").to_pylist()
    assert out == ["[30, 40["] * 3 + ["[60, 70["] * 3


def test_a_one_level_arx_hierarchy_is_allowed_and_keeps_the_values() -> None:
    maps = hierarchy_from_arx("男;*\n女;*\n", column="gender")
    frame = pd.DataFrame({"gender": ["男", "女"] * 4})
    result = apply(
        frame,
        {
            "k": 2,
            "columns": {
                "gender": {"class": "quasi_identifier", "rule": "generalize", "hierarchy": maps}
            },
        },
        KEYS,
    )
    assert result.table.column("gender").to_pylist() == ["男", "女"] * 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no values"),
        ("a;x;*\nb;*\n", "line 2 has 2 levels"),
        ("a;x;*\na;y;*\n", "'a' has two parents at level 1"),
        ("a;;*\n", "line 1 has an empty value"),
    ],
)
def test_a_malformed_arx_file_is_an_error_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        hierarchy_from_arx(text, column="q")


def test_a_value_missing_from_a_hierarchy_is_an_error_listing_the_values() -> None:
    frame = pd.DataFrame({"street": ["南山街道", "粤海街道", "蛇口街道", "南山街道"] * 3})
    maps = [{"南山街道": "南山区"}, {"南山区": "深圳市"}]
    with pytest.raises(
        DataError, match=r"column 'street': 2 value\(s\) \('粤海街道', '蛇口街道'\)"
    ):
        apply(frame, _policy("street", maps), KEYS)


def test_a_protected_column_missing_from_its_hierarchy_gets_a_count_not_its_values() -> None:
    frame = pd.DataFrame({"diagnosis": ["flu", "rare-x", "flu", "cold"] * 3})
    maps = [{"flu": "infection", "cold": "infection"}]
    policy = _policy("diagnosis", maps, cls="sensitive")
    with pytest.raises(DataError, match=r"column 'diagnosis': 1 value\(s\) missing") as caught:
        apply(frame, policy, KEYS)
    assert "rare-x" not in str(caught.value)


def test_datalease_hierarchy_import_prints_the_policy_entry(tmp_path) -> None:
    path = tmp_path / "age.csv"
    path.write_text(AGES, encoding="utf-8")
    result = CliRunner().invoke(app, ["hierarchy", "import", str(path), "--column", "age"])
    assert result.exit_code == 0, result.output
    entry = json.loads(result.output)["age"]
    assert entry == read_arx_hierarchy(path, column="age")
    assert entry["rule"] == "generalize" and len(entry["hierarchy"]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("a;x;*\na;y;*\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["hierarchy", "import", str(bad), "--column", "age"])
    assert result.exit_code == 2 and "two parents" in result.output
