"""Value detectors: checksums, formats and the column-level choice of a kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from desensitize import profile
from desensitize.detect import detect_column, is_resident_id, luhn_valid
from desensitize.detect.address import is_cn_address
from desensitize.detect.contact import is_cn_mobile, is_email, is_ipv4
from desensitize.detect.finance import is_bank_card
from desensitize.detect.names import is_cn_name
from desensitize.detect.plate import is_cn_plate
from desensitize.detect.temporal import is_date


def _matches(detector, values: list[str]) -> list[bool]:
    return detector(pd.Series(values, dtype=object)).tolist()


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("11010519491231002X", True),  # the GB 11643 standard's own example
        ("11010519491231002x", True),
        ("110105194912310021", False),  # wrong check character
        ("99010519491231002X", False),  # no province 99
        ("110105194902300027", False),  # 30 February
        ("110105210001010010", False),  # born in 2100
        ("11010519491231002", False),  # 17 characters
        ("１10105194912310021", False),  # a full-width digit
    ],
)
def test_resident_id_checks_region_birth_date_and_check_character(value, valid):
    assert _matches(is_resident_id, [value]) == [valid]


def test_generated_resident_ids_all_pass(citizens_small):
    assert is_resident_id(citizens_small["resident_id"]).all()


@pytest.mark.parametrize(
    ("number", "valid"),
    [("4111111111111111", True), ("4111111111111112", False), ("79927398713", True)],
)
def test_luhn_check(number, valid):
    assert luhn_valid(pd.Series([number])).tolist() == [valid]


def test_bank_cards_need_13_to_19_digits_and_luhn():
    values = ["4111 1111 1111 1111", "4111111111111112", "79927398713", "0111111111111111116"]
    assert _matches(is_bank_card, values) == [True, False, False, False]


@pytest.mark.parametrize(
    ("detector", "good", "bad"),
    [
        (
            is_cn_mobile,
            ["13800138000", "+86 138-0013-8000", "8619912345678"],
            ["12800138000", "1380013800"],
        ),
        (is_email, ["wang.li+x@qq.com", "a@mail.sz.gov.cn"], ["a@b", "wang li@qq.com"]),
        (is_ipv4, ["192.168.1.23", "8.8.8.8"], ["256.1.1.1", "1.2.3", "01.2.3.4.5"]),
        (
            is_cn_plate,
            ["粤B12345", "京A·D12345", "沪AD12345", "粤B12345F", "浙A1234学"],
            ["粤BI2345", "AB12345", "粤B1234"],
        ),
        (
            is_date,
            ["2024-03-01", "2024/3/1", "2024年3月1日", "20240301", "2024-03-01 08:30:00"],
            ["2024-13-01", "1234", "03/01/2024x"],
        ),
        (is_cn_name, ["王伟", "欧阳娜娜", "李秀英"], ["南山区", "宝安中心站", "Tom", "王", "的的"]),
        (
            is_cn_address,
            ["广东省深圳市福田区深南大道6008号", "深南大道6008号"],
            ["福田区", "广东省", "roads"],
        ),
    ],
)
def test_value_detectors_accept_good_and_reject_bad_values(detector, good, bad):
    assert all(_matches(detector, good))
    assert not any(_matches(detector, bad))


def test_every_generated_citizen_column_gets_its_expected_kind(citizens_small):
    expected = {
        "citizen_id": "code",
        "name": "cn_name",
        "resident_id": "cn_resident_id",
        "mobile": "cn_mobile",
        "email": "email",
        "birth_date": "date",
        "gender": "category",
        "district": "category",
        "address": "cn_address",
        "household_size": "category",
        "monthly_income": "amount",
        "card_id": "code",
    }
    kinds = {c: detect_column(c, citizens_small[c]).kind for c in citizens_small.columns}
    assert kinds == expected


def test_other_city_tables_get_plates_coordinates_times_and_fares(city_tables):
    kinds = {
        (table, column): detect_column(column, df[column]).kind
        for table, df in city_tables.items()
        for column in df.columns
    }
    assert kinds["school_bus_gps", "bus_id"] == "cn_plate"
    assert kinds["school_bus_gps", "latitude"] == "latitude"
    assert kinds["school_bus_gps", "longitude"] == "longitude"
    assert kinds["transit_trips", "boarding_time"] == "datetime"
    assert kinds["transit_trips", "fare_fen"] == "amount"
    assert kinds["clinic_visits", "cost_fen"] == "amount"
    # Few children repeat over many boardings, so the names may look like a category; what
    # matters is that they are never suggested for release as they are.
    assert kinds["student_boardings", "student_name"] in ("cn_name", "category")
    suggestion = profile(city_tables["student_boardings"])["student_name"].suggestion
    assert suggestion["class"] == "identifier" and suggestion["rule"] == "token"
    assert kinds["clinic_visits", "diagnosis_category"] == "category"


def test_phone_numbers_stored_as_integers_are_still_detected():
    values = pd.Series([13800138000 + i * 7919 for i in range(30)], dtype="int64")
    assert detect_column("contact", values).kind == "cn_mobile"


def test_share_counts_only_non_null_values_that_match():
    values = pd.Series(["13800138000"] * 9 + ["not a phone"] + [None] * 5)
    detection = detect_column("x", values)
    assert detection.kind == "cn_mobile" and detection.share == pytest.approx(0.9)


def test_below_the_threshold_no_value_kind_is_taken():
    values = pd.Series(["13800138000"] * 7 + ["n/a"] * 3)
    assert detect_column("x", values).kind != "cn_mobile"


def test_column_name_breaks_a_tie_but_does_not_detect_on_its_own():
    # Each value is both a valid resident ID and a Luhn-valid 18-digit number.
    both = "110101199001010250"
    assert is_bank_card(pd.Series([both])).all() and is_resident_id(pd.Series([both])).all()
    assert detect_column("bank_card_no", pd.Series([both] * 5)).kind == "bank_card"
    assert detect_column("whatever", pd.Series([both] * 5)).kind == "cn_resident_id"
    assert detect_column("mobile", pd.Series(["hello", "world"] * 5)).kind != "cn_mobile"


@pytest.mark.parametrize(
    ("name", "values", "kind"),
    [
        (
            "notes",
            [f"第{i}次上门：客户要求周末送货，请提前电话联系确认时间" for i in range(6)],
            "free_text",
        ),
        ("comment", [f"item {i} was fine" for i in range(10)], "free_text"),
        ("flag", [True, False, True], "boolean"),
        ("blank", [None, None], "empty"),
        ("lat", [22.5 + i / 1000 for i in range(20)], "latitude"),
        ("lng", [113.9 + i / 1000 for i in range(20)], "longitude"),
        ("age", [20 + i for i in range(60)], "age"),
        ("speed_kmh", [30.5 + i for i in range(60)], "measurement"),
        ("delta", [-1.23456 * i for i in range(60)], "number"),
        ("user_id", list(range(1000, 1060)), "record_id"),
        ("fare", [2.0, 3.0, 4.0] * 10, "amount"),
        ("level", [1, 2, 3] * 10, "category"),
        ("district", ["南山区", "福田区", "车公庙"] * 10, "category"),
    ],
)
def test_column_level_kinds(name, values, kind):
    assert detect_column(name, pd.Series(values)).kind == kind


def test_datetime_columns_with_times_differ_from_date_columns():
    dates = pd.Series(pd.to_datetime(["2024-01-01", "2024-02-01"]))
    times = pd.Series(pd.to_datetime(["2024-01-01 08:00", "2024-02-01 18:30"]))
    assert detect_column("d", dates).kind == "date"
    assert detect_column("t", times).kind == "datetime"
    import datetime as dt

    objects = pd.Series([dt.date(1990, 1, 2), dt.date(1985, 5, 6)], dtype=object)
    detection = detect_column("birthday", objects)
    assert detection.kind == "date" and detection.details["birth"] is True


def test_detection_of_ten_thousand_values_is_fast():
    values = pd.Series(np.repeat(["13800138000", "广东省深圳市福田区深南大道6008号"], 5_000))
    import time

    start = time.perf_counter()
    detect_column("mixed", values)
    assert time.perf_counter() - start < 2.0
