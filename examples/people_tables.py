"""Example tables whose rows belong to people: transit riders, school children, clinic patients.

Privacy has to count persons, not rows, and a person contributes many rows: a commuter
rides twice every weekday, a child boards the school bus twice every school day, a
chronic patient comes back to the same clinic with the same diagnosis. Each table has a
fixed population derived from its row count; a person's stable attributes are drawn once
for the whole population from a seeded generator (never from chunk state), and the rows
of one person are consecutive, so a person whose rows span two chunks stays the same.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from examples.city_vocab import (
    BUS_ROUTES,
    CLINICS,
    DIAGNOSIS_CATEGORIES,
    METRO_STATIONS,
    SCHOOL_ROUTES,
    SCHOOLS,
)
from examples.generate_city_data import (
    TABLES,
    WEEK_START,
    _concat,
    _pools,
    _rng,
    _zfill,
    card_ids,
    citizen_identity,
    citizen_ids,
)

TERM_WEEKS = 4
TERM_DAYS = 7 * TERM_WEEKS
# Days since WEEK_START (a Monday) that are school days: Monday to Friday of each week.
SCHOOL_DAYS = np.array([7 * w + d for w in range(TERM_WEEKS) for d in range(5)])
COMMUTE_TRIPS = 10  # home→work and work→home on each of five weekdays
UTC_OFFSET = 8 * 3600  # Shenzhen local time is UTC+8

ROUTES = list(BUS_ROUTES)
N_STOPS = np.array([len(BUS_ROUTES[r]) for r in ROUTES])
# Stop names as a (route, position) table, padded with the last stop.
STOP_NAMES = np.array(
    [
        [s[0] for s in BUS_ROUTES[r]]
        + [BUS_ROUTES[r][-1][0]] * (N_STOPS.max() - len(BUS_ROUTES[r]))
        for r in ROUTES
    ]
)
SCHOOL_ROUTE = np.array([ROUTES.index(SCHOOL_ROUTES[s]) for s in SCHOOLS])
# Stations of the business districts, where most commuters work.
WORK_HUBS = np.array(
    [
        METRO_STATIONS.index(s)
        for s in (
            "会展中心",
            "购物公园",
            "岗厦",
            "车公庙",
            "国贸",
            "大剧院",
            "华强路",
            "高新园",
            "深大",
        )
    ]
)
CHRONIC = np.array(
    [
        DIAGNOSIS_CATEGORIES.index(d)
        for d in (
            "循环系统疾病",
            "内分泌营养代谢疾病",
            "呼吸系统疾病",
            "精神和行为障碍",
            "肌肉骨骼疾病",
        )
    ]
)
PREGNANCY = DIAGNOSIS_CATEGORIES.index("妊娠分娩")
CHECKUP = DIAGNOSIS_CATEGORIES.index("健康体检")


def _population_rng(seed: int, table: str) -> np.random.Generator:
    # Chunk generators are keyed [seed, table, chunk] with table < 100: no overlap.
    return np.random.default_rng([seed, 100 + TABLES.index(table)])


def _spread(index: np.ndarray, citizens: int) -> np.ndarray:
    """Distinct citizens for distinct persons (index < citizens), scattered over the table."""
    # A step coprime with the modulus makes the map a permutation of 0..citizens-1.
    step = next(p for p in (7_919, 7_927, 7_933) if citizens % p)
    return (index * step + 12_345) % citizens


def _fit(counts: np.ndarray, rows: int) -> dict[str, np.ndarray]:
    """First and one-past-last row of each person, stretched if the population cannot fill rows."""
    total = int(counts.sum())
    if total < rows:  # a capped population: every person contributes proportionally more
        counts = np.ceil(counts * (rows / total)).astype(np.int64)
    ends = np.cumsum(counts)
    return {"first_row": ends - counts, "ends": ends}


def _locate(pop: dict[str, np.ndarray], start: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The person of each row and which of that person's rows it is (0, 1, ...)."""
    index = np.arange(start, start + rows)
    person = np.searchsorted(pop["ends"], index, side="right")
    return person, index - pop["first_row"][person]


def _timestamps(day: np.ndarray, local_seconds: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps from days since WEEK_START and local (UTC+8) seconds of the day."""
    offsets = day * 86_400 + local_seconds.astype(np.int64) - UTC_OFFSET
    return WEEK_START + pd.to_timedelta(offsets, unit="s")


@lru_cache(maxsize=4)
def _riders(seed: int, rows: int, citizens: int) -> dict[str, np.ndarray]:
    """Card holders: 80% commute between a home and a work station, all take extra trips."""
    rng = _population_rng(seed, "transit_trips")
    n = min(citizens, max(1, -(-rows // 9)))  # ~11 trips each; the tail goes unused
    commuter = rng.random(n) < 0.8
    counts = np.where(commuter, COMMUTE_TRIPS + rng.poisson(1.5, n), 1 + rng.poisson(3.0, n))
    stations = len(METRO_STATIONS)
    home = rng.integers(0, stations, n)
    near = np.clip(home + rng.integers(3, 16, n) * rng.choice([-1, 1], n), 0, stations - 1)
    work = np.where(rng.random(n) < 0.65, WORK_HUBS[rng.integers(0, len(WORK_HUBS), n)], near)
    work = np.where(work == home, (home + 7) % stations, work)
    return {
        **_fit(counts, rows),
        "commuter": commuter,
        "home": home,
        "work": work,
        # Habitual departure times, local seconds of the day.
        "am": np.clip(rng.normal(8.0, 0.6, n), 6.3, 10.0) * 3600,
        "pm": np.clip(rng.normal(18.4, 0.8, n), 16.5, 21.5) * 3600,
        "citizen": _spread(np.arange(n), citizens),
    }


def transit_chunk(
    start: int, rows: int, seed: int, chunk: int, total: int, citizens: int
) -> pd.DataFrame:
    """Metro trips, each on its rider's stable card; commuters' first ten are the commute."""
    pop = _riders(seed, total, citizens)
    rng = _rng(seed, "transit_trips", chunk)
    rider, k = _locate(pop, start, rows)
    commute = pop["commuter"][rider] & (k < COMMUTE_TRIPS)
    morning = commute & (k % 2 == 0)
    evening = commute & (k % 2 == 1)
    home, work = pop["home"][rider], pop["work"][rider]
    n = len(METRO_STATIONS)
    # Extra trips (shopping, visits) often start near home and go anywhere along the line.
    extra_from = np.where(rng.random(rows) < 0.4, home, rng.integers(0, n, rows))
    hop = rng.integers(1, 15, rows) * rng.choice([-1, 1], rows)
    extra_to = np.clip(extra_from + hop, 0, n - 1)
    extra_to = np.where(extra_to == extra_from, (extra_from + 1) % n, extra_to)
    board = np.select([morning, evening], [home, work], extra_from)
    alight = np.select([morning, evening], [work, home], extra_to)
    day = np.where(commute, k // 2, rng.integers(0, 7, rows))
    habit = np.select([morning, evening], [pop["am"][rider], pop["pm"][rider]], 0.0)
    local = np.where(commute, habit + rng.normal(0, 420, rows), rng.uniform(9, 22.5, rows) * 3600)
    boarding = _timestamps(day, np.clip(local, 5.5 * 3600, 23.5 * 3600))
    stops = np.abs(alight - board)
    ride = pd.to_timedelta(stops * 150 + rng.integers(60, 400, rows), unit="s")
    # Shenzhen Metro fares: 2 yuan for the first stretch, then 1 yuan per band, in fen.
    fare = (200 + 100 * np.ceil(np.maximum(stops - 2, 0) / 3)).astype(np.int64)
    stations = np.array(METRO_STATIONS)
    who = pop["citizen"][rider]
    return pd.DataFrame(
        {
            "trip_id": _concat("T", _zfill(np.arange(start, start + rows), 10)),
            "card_id": card_ids(who),
            "citizen_id": citizen_ids(who),
            "boarding_station": stations[board],
            "alighting_station": stations[alight],
            "boarding_time": boarding,
            "alighting_time": boarding + ride,
            "fare_fen": fare,
        }
    )


@lru_cache(maxsize=4)
def _students(seed: int, rows: int) -> dict[str, np.ndarray]:
    """Pupils: 85% ride to school and home every school day, the rest now and then."""
    rng = _population_rng(seed, "student_boardings")
    n = max(1, -(-rows // 33))  # ~37 boardings each; the tail goes unused
    regular = rng.random(n) < 0.85
    counts = np.where(regular, 2 * len(SCHOOL_DAYS), rng.integers(4, 31, n))
    school = rng.integers(0, len(SCHOOLS), n)
    route = SCHOOL_ROUTE[school]
    home_pos = (rng.random(n) * (N_STOPS[route] - 1)).astype(np.int64)
    grade = rng.integers(1, 10, n)
    pools = _pools(seed)
    name = _concat(
        pools["surname"][rng.integers(0, len(pools["surname"]), n)],
        pools["child_given"][rng.integers(0, len(pools["child_given"]), n)],
    )
    # Stops farther from school are served earlier, so that the bus arrives by about 7:45;
    # primary grades finish an hour before the others.
    am = 7.75 * 3600 - (N_STOPS[route] - 1 - home_pos) * 360 + rng.normal(0, 300, n)
    pm = np.where(grade <= 6, 16.25, 17.25) * 3600 + rng.normal(0, 240, n)
    return {
        **_fit(counts, rows),
        "regular": regular,
        "school": school,
        "route": route,
        "home_pos": home_pos,
        "grade": grade,
        "bus": route * 3 + rng.integers(0, 3, n),
        "name": name,
        "am": am,
        "pm": pm,
    }


def boardings_chunk(start: int, rows: int, seed: int, chunk: int, total: int) -> pd.DataFrame:
    """School-bus boardings: at the home stop in the morning, at the school stop after class."""
    pop = _students(seed, total)
    rng = _rng(seed, "student_boardings", chunk)
    student, k = _locate(pop, start, rows)
    regular = pop["regular"][student] & (k < 2 * len(SCHOOL_DAYS))
    day = np.where(regular, k // 2, rng.integers(0, len(SCHOOL_DAYS), rows))
    going_home = np.where(regular, k % 2 == 1, rng.random(rows) < 0.5)
    route, home_pos = pop["route"][student], pop["home_pos"][student]
    habit = np.where(going_home, pop["pm"][student], pop["am"][student])
    # Regular riders keep their habit within minutes; irregular ones vary by much more.
    local = habit + np.where(regular, rng.normal(0, 150, rows), rng.normal(0, 1200, rows))
    home_stop = STOP_NAMES[route, home_pos]
    return pd.DataFrame(
        {
            "boarding_id": _concat("B", _zfill(np.arange(start, start + rows), 9)),
            "student_id": _concat("S", _zfill(student, 7)),
            "student_name": pop["name"][student],
            "grade": pop["grade"][student],
            "school": np.array(SCHOOLS)[pop["school"][student]],
            "home_stop": home_stop,
            "route": np.array(ROUTES)[route],
            "bus_id": _concat("粤B", _zfill(pop["bus"][student] + 70_000, 5)),
            "stop": np.where(going_home, STOP_NAMES[route, N_STOPS[route] - 1], home_stop),
            "direction": np.where(going_home, "放学", "上学"),
            "boarding_time": _timestamps(SCHOOL_DAYS[day], local),
        }
    )


def _identities(
    seed: int, citizens: int, chunk_rows: int, index: np.ndarray
) -> dict[str, np.ndarray]:
    """District, birth date, gender and resident ID of citizens, as the citizens table has them."""
    chunk_of = index // chunk_rows
    out: dict[str, np.ndarray] = {}
    for c in np.unique(chunk_of):  # a loop over citizens chunks, not over rows
        rows = min(chunk_rows, citizens - int(c) * chunk_rows)
        ident = citizen_identity(_rng(seed, "citizens", int(c)), rows)
        sel = chunk_of == c
        for key, values in ident.items():
            out.setdefault(key, np.empty(len(index), dtype=values.dtype))
            out[key][sel] = values[index[sel] - int(c) * chunk_rows]
    return out


@lru_cache(maxsize=2)  # holds resident IDs of up to a million patients
def _patients(seed: int, rows: int, citizens: int, chunk_rows: int) -> dict[str, np.ndarray]:
    """Patients: 40% chronic, coming back with the same diagnosis; each is one citizen."""
    rng = _population_rng(seed, "clinic_visits")
    n = min(citizens, max(1, -(-rows // 3)))  # ~3.8 visits each; the tail goes unused
    chronic = rng.random(n) < 0.4
    counts = np.where(chronic, 3 + rng.poisson(4.0, n), 1 + rng.poisson(0.6, n))
    citizen = _spread(np.arange(n), citizens)
    who = _identities(seed, citizens, chunk_rows, citizen)
    male = who["gender"] == "男"
    any_diagnosis = rng.integers(0, len(DIAGNOSIS_CATEGORIES), n)
    primary = np.where(chronic, CHRONIC[rng.integers(0, len(CHRONIC), n)], any_diagnosis)
    return {
        **_fit(counts, rows),
        **who,
        "chronic": chronic,
        "citizen": citizen,
        "male": male,
        "birth_year": who["birth"].astype("datetime64[Y]").astype(np.int64) + 1970,
        "primary": np.where((primary == PREGNANCY) & male, CHECKUP, primary),
        "clinic": rng.integers(0, len(CLINICS), n),
    }


def clinic_chunk(
    start: int, rows: int, seed: int, chunk: int, total: int, citizens: int, chunk_rows: int
) -> pd.DataFrame:
    """Clinic visits of stable patients, mostly at their usual clinic with their usual complaint."""
    pop = _patients(seed, total, citizens, chunk_rows)
    rng = _rng(seed, "clinic_visits", chunk)
    patient, _ = _locate(pop, start, rows)
    same = rng.random(rows) < np.where(pop["chronic"][patient], 0.85, 0.6)
    diag = np.where(same, pop["primary"][patient], rng.integers(0, len(DIAGNOSIS_CATEGORIES), rows))
    diag = np.where((diag == PREGNANCY) & pop["male"][patient], CHECKUP, diag)
    clinic = np.where(
        rng.random(rows) < 0.8, pop["clinic"][patient], rng.integers(0, len(CLINICS), rows)
    )
    # Clinics see patients between 8:00 and 18:00 local time, any day of the term.
    visit = _timestamps(rng.integers(0, TERM_DAYS, rows), rng.uniform(8, 18, rows) * 3600)
    cost = np.round(rng.lognormal(np.log(28_000) + (diag % 4) * 0.2, 0.8, rows), -2)
    who = pop["citizen"][patient]
    return pd.DataFrame(
        {
            "visit_id": _concat("V", _zfill(np.arange(start, start + rows), 10)),
            "patient_id": _concat("P", _zfill(patient, 8)),
            "citizen_id": citizen_ids(who),
            "resident_id": pop["resident_id"][patient],
            "gender": pop["gender"][patient],
            "birth_year": pop["birth_year"][patient],
            "district": pop["district"][patient],
            "clinic": np.array(CLINICS)[clinic],
            "visit_time": visit,
            "diagnosis_category": np.array(DIAGNOSIS_CATEGORIES)[diag],
            "cost_fen": cost.astype(np.int64),
        }
    )
