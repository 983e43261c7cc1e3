from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from examples.generate_city_data import (
    TABLES,
    gb11643_check_char,
    generate,
    resident_id_is_valid,
    write,
)
from exchange.cli import app

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def reference_check_char(first17: str) -> str:
    """GB 11643-1999 written out plainly, independent of the vectorized version."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def test_every_resident_id_has_a_valid_gb11643_check_character(citizens_small):
    ids = citizens_small["resident_id"]
    assert ids.str.len().eq(18).all()
    assert all(reference_check_char(v[:17]) == v[17] for v in ids)


def test_known_resident_id_check_character():
    # A published sample number from GB 11643: 11010519491231002X.
    assert reference_check_char("11010519491231002") == "X"
    digits = np.array([[int(c) for c in "11010519491231002"]])
    assert gb11643_check_char(digits)[0] == "X"
    assert resident_id_is_valid("11010519491231002X")
    assert not resident_id_is_valid("110105194912310021")


def test_resident_id_encodes_birth_date_and_gender(citizens_small):
    ids = citizens_small["resident_id"]
    assert (ids.str[6:14] == citizens_small["birth_date"].dt.strftime("%Y%m%d")).all()
    male = ids.str[16].astype(int) % 2 == 1
    assert (np.where(male, "男", "女") == citizens_small["gender"]).all()


def test_mobiles_are_mainland_numbers(citizens_small):
    assert citizens_small["mobile"].str.fullmatch(r"1[3-9]\d{9}").all()


@pytest.mark.parametrize("table", TABLES)
def test_same_seed_gives_the_same_table_and_another_seed_does_not(table):
    a, b, c = generate(table, 300, seed=1), generate(table, 300, seed=1), generate(table, 300, 2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("rows", [0, 1, 100, 1234])
def test_tables_have_the_requested_number_of_rows(table, rows):
    assert len(generate(table, rows, seed=0)) == rows


def test_large_tables_are_generated_in_fixed_chunks(monkeypatch):
    import examples.generate_city_data as gen

    monkeypatch.setattr(gen, "CHUNK_ROWS", 250)
    whole = gen.generate("citizens", 1000, seed=5)
    assert len(whole) == 1000
    assert whole["citizen_id"].is_unique
    assert whole["card_id"].is_unique


def test_trips_and_visits_link_to_citizens(city_tables):
    citizens = set(generate("citizens", 100, seed=3)["citizen_id"])
    trips = city_tables["transit_trips"]
    assert set(trips["citizen_id"]) <= citizens
    assert (trips["alighting_time"] > trips["boarding_time"]).all()
    assert str(trips["boarding_time"].dt.tz) == "UTC"
    assert (trips["fare_fen"] >= 200).all()


def test_bus_positions_stay_in_shenzhen(city_tables):
    gps = city_tables["school_bus_gps"]
    assert gps["latitude"].between(22.4, 22.9).all()
    assert gps["longitude"].between(113.7, 114.6).all()


@pytest.mark.parametrize("fmt,encoding", [("csv", "utf-8"), ("csv", "gbk"), ("parquet", "utf-8")])
def test_same_seed_writes_byte_identical_files(tmp_path, fmt, encoding):
    digests = []
    for name in ("a", "b"):
        path = write(
            "citizens", 700, tmp_path / f"{name}.{fmt}", seed=9, fmt=fmt, encoding=encoding
        )
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    if fmt == "csv":
        back = pd.read_csv(tmp_path / "a.csv", encoding=encoding, dtype=str)
        assert len(back) == 700
        assert back["district"].str.endswith(("区", "新区")).all()


def test_generate_command_writes_the_file(tmp_path):
    out = tmp_path / "trips.parquet"
    result = CliRunner().invoke(
        app, ["generate", "transit_trips", "--rows", "50", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == 50


def test_unknown_table_is_refused_with_the_choices():
    result = CliRunner().invoke(app, ["generate", "weather", "--rows", "5"])
    assert result.exit_code != 0
    assert "citizens" in result.output


# Tables about people: privacy counts persons, so persons must be in the data.


def _local(times: pd.Series) -> pd.Series:
    return times.dt.tz_convert("Asia/Shanghai")


@pytest.fixture(scope="module")
def boardings() -> pd.DataFrame:
    return generate("student_boardings", 4000, seed=11)


def test_students_are_far_fewer_than_boardings_and_keep_their_attributes(boardings):
    students = boardings.groupby("student_id")
    assert 1 < students.ngroups <= len(boardings) // 20
    stable = ["student_name", "grade", "school", "home_stop", "route"]
    assert (students[stable].nunique() == 1).all().all()
    assert boardings["grade"].between(1, 9).all()
    mornings = boardings[boardings["direction"] == "上学"]
    assert (mornings["stop"] == mornings["home_stop"]).all()


def test_most_students_board_twice_per_school_day_at_habitual_times(boardings):
    local = _local(boardings["boarding_time"])
    assert local.dt.dayofweek.lt(5).all()
    per_day = boardings.groupby(["student_id", local.dt.date]).size()
    assert (per_day == 2).mean() > 0.8
    mornings = boardings.assign(minute=local.dt.hour * 60 + local.dt.minute)
    mornings = mornings[mornings["direction"] == "上学"]
    spread = mornings.groupby("student_id")["minute"].std().dropna()
    assert (spread < 10).mean() > 0.7


def test_a_students_rows_span_chunks_as_the_same_student(monkeypatch, boardings):
    import examples.generate_city_data as gen

    monkeypatch.setattr(gen, "CHUNK_ROWS", 333)
    chunked = gen.generate("student_boardings", 4000, seed=11)
    assert len(chunked) == 4000
    pd.testing.assert_series_equal(chunked["student_id"], boardings["student_id"])
    stable = ["student_name", "grade", "school", "home_stop"]
    assert (chunked.groupby("student_id")[stable].nunique() == 1).all().all()


def test_transit_cards_belong_to_riders_who_commute_from_home():
    trips = generate("transit_trips", 6000, seed=4)
    cards = trips.groupby("card_id")
    assert cards.ngroups <= len(trips) // 5
    assert (cards["citizen_id"].nunique() == 1).all()
    assert trips.groupby("citizen_id")["card_id"].nunique().eq(1).all()
    local = _local(trips["boarding_time"])
    morning = trips[local.dt.dayofweek.lt(5) & local.dt.hour.between(6, 9)]
    starts = morning.groupby("card_id")["boarding_station"]
    usual = starts.agg(lambda s: s.value_counts().iloc[0] / len(s))[starts.size() >= 4]
    assert len(usual) > 50
    assert (usual >= 0.8).mean() > 0.7


def test_clinic_patients_come_back_as_the_same_citizen():
    visits = generate("clinic_visits", 3000, seed=5)
    patients = visits.groupby("patient_id")
    assert patients.size().mean() >= 2.5
    assert (patients.size() >= 3).mean() > 0.3
    stable = ["citizen_id", "resident_id", "gender", "birth_year", "district"]
    assert (patients[stable].nunique() == 1).all().all()
    assert visits.groupby("resident_id")["patient_id"].nunique().eq(1).all()
    assert all(resident_id_is_valid(v) for v in visits["resident_id"].unique())
    frequent = patients["diagnosis_category"].agg(lambda s: s.value_counts().iloc[0] / len(s))
    assert frequent[patients.size() >= 5].mean() > 0.7


def test_clinic_patients_have_their_citizens_identity(monkeypatch):
    import examples.generate_city_data as gen

    monkeypatch.setattr(gen, "CHUNK_ROWS", 150)  # patients' citizens span citizens chunks
    visits = gen.generate("clinic_visits", 2000, seed=6)
    citizens = gen.generate("citizens", 400, seed=6).set_index("citizen_id")
    them = citizens.loc[visits["citizen_id"]]
    assert (them["resident_id"].to_numpy() == visits["resident_id"].to_numpy()).all()
    assert (them["gender"].to_numpy() == visits["gender"].to_numpy()).all()
    assert (them["birth_date"].dt.year.to_numpy() == visits["birth_year"].to_numpy()).all()


@pytest.mark.parametrize("table", ["student_boardings", "clinic_visits"])
def test_people_tables_write_byte_identical_files(tmp_path, table):
    paths = [write(table, 900, tmp_path / f"{n}.csv", seed=3, encoding="gbk") for n in "ab"]
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert len(pd.read_csv(paths[0], encoding="gbk")) == 900
