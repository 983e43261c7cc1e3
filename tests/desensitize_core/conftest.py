"""Fixtures of the desensitize core tests: keys, small hand-made tables, a standard policy."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from desensitize import Keyring

SECRET = b"lease-0001-secret-material-32byte"


@pytest.fixture
def keys() -> Keyring:
    return Keyring(SECRET)


@pytest.fixture
def other_keys() -> Keyring:
    return Keyring(b"lease-0002-secret-material-32byte")


@pytest.fixture
def people() -> pd.DataFrame:
    """Twelve residents with planted identifiers, two districts and a diagnosis."""
    rows = 12
    return pd.DataFrame(
        {
            "resident_id": [f"4403051987{i:02d}14123{i % 10}" for i in range(rows)],
            "mobile": [f"1381234{i:04d}" for i in range(rows)],
            "name": ["张三", "李四", "王五", "赵六", "欧阳娜娜", "钱七"] * 2,
            "address": [f"广东省深圳市南山区科技园路{i}号" for i in range(rows)],
            "birth_date": pd.to_datetime([dt.date(1980 + i % 3, 1 + i, 5) for i in range(rows)]),
            "district": ["南山区", "福田区"] * 6,
            "gender": ["男", "女", "女", "男"] * 3,
            "income": [5000 + 1000 * i for i in range(rows)],
            "diagnosis": ["flu", "asthma", "diabetes", "flu"] * 3,
            "notes": [f"called on day {i}" for i in range(rows)],
        }
    )


@pytest.fixture
def issue_policy() -> dict:
    """The policy shape of the issue, verbatim."""
    return {
        "k": 5,
        "l_diversity": {"column": "diagnosis", "l": 3},
        "columns": {
            "resident_id": {"class": "identifier", "rule": "mask", "preset": "cn_resident_id"},
            "mobile": {"class": "identifier", "rule": "mask", "preset": "cn_mobile"},
            "name": {"class": "identifier", "rule": "token"},
            "address": {"class": "identifier", "rule": "fake", "kind": "address"},
            "birth_date": {"class": "quasi_identifier", "rule": "generalize", "to": "year"},
            "district": {"class": "quasi_identifier", "rule": "keep"},
            "gender": {"class": "quasi_identifier", "rule": "keep"},
            "income": {
                "class": "sensitive",
                "rule": "noise",
                "epsilon": 1.0,
                "bounds": [0, 100000],
            },
            "notes": {"class": "drop"},
        },
    }


@pytest.fixture
def citizen_policy() -> dict:
    """A standard policy over the example citizens table."""
    return {
        "k": 5,
        "columns": {
            "citizen_id": {"class": "identifier", "rule": "token", "link": "citizen"},
            "name": {"class": "identifier", "rule": "token"},
            "resident_id": {"class": "identifier", "rule": "mask", "preset": "cn_resident_id"},
            "mobile": {"class": "identifier", "rule": "mask", "preset": "cn_mobile"},
            "email": {"class": "identifier", "rule": "mask", "preset": "email"},
            "birth_date": {"class": "quasi_identifier", "rule": "generalize", "to": "month"},
            "gender": {"class": "quasi_identifier", "rule": "keep"},
            "district": {"class": "quasi_identifier", "rule": "keep"},
            "address": {"class": "identifier", "rule": "fake", "kind": "address"},
            "household_size": {"class": "attribute", "rule": "top_bottom_code", "bounds": [1, 5]},
            "monthly_income": {
                "class": "sensitive",
                "rule": "noise",
                "epsilon": 1.0,
                "bounds": [0, 100000],
            },
            "card_id": {"class": "identifier", "rule": "token"},
        },
    }
