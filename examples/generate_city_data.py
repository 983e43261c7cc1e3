"""Seedable, realistic smart-city example tables (citizens, transit, school bus, clinics).

Faker costs tens of microseconds per value, so every table draws small pools of
Faker values once and combines them with vectorized numpy indexing; a million
citizens take a few seconds. The same seed always gives the same rows.

Trips, school-bus boardings and clinic visits belong to stable people (a card, a
student, a patient) who each contribute many rows; ``examples/people_tables.py``
makes those tables, because privacy has to count persons, not rows.

Run directly or through ``datalease generate``::

    python examples/generate_city_data.py citizens --rows 1000000 --out citizens.parquet
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from faker import Faker

from examples.city_vocab import (
    BUS_ROUTES,
    EMAIL_DOMAINS,
    MOBILE_PREFIXES,
    OTHER_REGION_CODES,
    SHENZHEN_DISTRICTS,
)

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK_CHARS = np.array(list("10X98765432"))
CHUNK_ROWS = 500_000
# Example data starts in one November week so that time-based generalization is meaningful;
# trips cover that week, school boardings and clinic visits the four weeks from it.
WEEK_START = pd.Timestamp("2026-11-02T00:00:00Z")
TABLES = ("citizens", "transit_trips", "school_bus_gps", "student_boardings", "clinic_visits")


def gb11643_check_char(first17: np.ndarray) -> np.ndarray:
    """Check characters of resident ID numbers, given their first 17 digits as an (n, 17) array."""
    total = (first17.astype(np.int64) * ID_WEIGHTS).sum(axis=1)
    return ID_CHECK_CHARS[total % 11]


def resident_id_is_valid(value: str) -> bool:
    """True if ``value`` is an 18-character resident ID whose GB 11643 check character matches."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    digits = np.array([int(c) for c in value[:17]]).reshape(1, 17)
    return str(gb11643_check_char(digits)[0]) == value[17].upper()


@lru_cache(maxsize=8)
def _pools(seed: int) -> dict[str, np.ndarray]:
    """Faker zh_CN value pools, drawn once per seed (the only per-value Faker calls)."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    return {
        "surname": np.array([fake.last_name() for _ in range(400)]),
        "given": np.array([fake.first_name() for _ in range(2000)]),
        "street": np.array([fake.street_name() for _ in range(600)]),
        "user": np.array([fake.user_name() for _ in range(3000)]),
        "child_given": np.array([fake.first_name() for _ in range(800)]),
    }


def _rng(seed: int, table: str, chunk: int) -> np.random.Generator:
    return np.random.default_rng([seed, TABLES.index(table), chunk])


def _zfill(values: np.ndarray, width: int) -> np.ndarray:
    return np.char.zfill(values.astype(np.int64).astype(str), width)


def _concat(*parts: np.ndarray | str) -> np.ndarray:
    out = np.asarray(parts[0]).astype(object)
    for part in parts[1:]:
        out = out + np.asarray(part).astype(object)
    return out


def card_ids(index: np.ndarray) -> np.ndarray:
    """Shenzhen Tong smart-card numbers, a fixed function of the citizen's row index."""
    # A multiplicative permutation keeps card numbers unique but not sequential.
    return _concat("SZT", _zfill((index * 7_919 + 13_579) % 1_000_000_000, 9))


def citizen_ids(index: np.ndarray) -> np.ndarray:
    return _concat("C", _zfill(index, 9))


def citizen_identity(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    """District, birth date, gender and resident ID: the first draws of a citizens chunk.

    Kept apart so that tables about the same people (clinic patients) can rebuild a
    citizen's identity from the citizens chunk's generator without the other columns.
    """
    names = list(SHENZHEN_DISTRICTS)
    shares = np.array([v[1] for v in SHENZHEN_DISTRICTS.values()])
    district_idx = rng.choice(len(names), size=rows, p=shares / shares.sum())

    # Birth region: the home district for locals, elsewhere in China for about 60%.
    local_codes = np.array([v[0] for v in SHENZHEN_DISTRICTS.values()])[district_idx]
    other_codes = np.array(OTHER_REGION_CODES)[rng.integers(0, len(OTHER_REGION_CODES), rows)]
    region = np.where(rng.random(rows) < 0.4, local_codes, other_codes)

    birth = (
        np.datetime64("1945-01-01")
        + rng.integers(
            0, (np.datetime64("2008-12-31") - np.datetime64("1945-01-01")).astype(int), rows
        )
    ).astype("datetime64[D]")
    birth_str = np.char.replace(birth.astype(str), "-", "")
    seq = rng.integers(0, 500, rows) * 2 + rng.integers(0, 2, rows)  # 0..999; odd = male
    first17 = _concat(region, birth_str, _zfill(seq, 3)).astype(str)
    digits = np.frombuffer(first17.astype("S17").tobytes(), dtype=np.uint8).reshape(rows, 17) - 48
    return {
        "district": np.array(names)[district_idx],
        "birth": birth,
        "gender": np.where(seq % 2 == 1, "男", "女"),
        "resident_id": _concat(first17, gb11643_check_char(digits)),
    }


def _citizens_chunk(start: int, rows: int, seed: int, chunk: int) -> pd.DataFrame:
    rng = _rng(seed, "citizens", chunk)
    pools = _pools(seed)
    index = np.arange(start, start + rows)
    who = citizen_identity(rng, rows)
    district = who["district"]
    surname = pools["surname"][rng.integers(0, len(pools["surname"]), rows)]
    given = pools["given"][rng.integers(0, len(pools["given"]), rows)]
    mobile = _concat(
        np.array(MOBILE_PREFIXES)[rng.integers(0, len(MOBILE_PREFIXES), rows)],
        _zfill(rng.integers(0, 100_000_000, rows), 8),
    )
    email = _concat(
        pools["user"][rng.integers(0, len(pools["user"]), rows)],
        _zfill(rng.integers(0, 10_000, rows), 4),
        "@",
        np.array(EMAIL_DOMAINS)[rng.integers(0, len(EMAIL_DOMAINS), rows)],
    )
    address = _concat(
        "广东省深圳市",
        district,
        pools["street"][rng.integers(0, len(pools["street"]), rows)],
        rng.integers(1, 400, rows).astype(str),
        "号",
        rng.integers(1, 30, rows).astype(str),
        "栋",
        rng.integers(101, 3300, rows).astype(str),
        "室",
    )
    income = np.clip(np.round(rng.lognormal(np.log(9000), 0.6, rows), -1), 0, 200_000)
    return pd.DataFrame(
        {
            "citizen_id": citizen_ids(index),
            "name": _concat(surname, given),
            "resident_id": who["resident_id"],
            "mobile": mobile,
            "email": email,
            "birth_date": pd.to_datetime(who["birth"]),
            "gender": who["gender"],
            "district": district,
            "address": address,
            "household_size": rng.choice(
                np.arange(1, 8), size=rows, p=[0.14, 0.25, 0.28, 0.18, 0.09, 0.04, 0.02]
            ),
            "monthly_income": income.astype(np.int64),
            "card_id": card_ids(index),
        }
    )


def _bus_chunk(start: int, rows: int, seed: int, chunk: int) -> pd.DataFrame:
    """GPS fixes every 10 s, each bus driving its route back and forth on school days."""
    rng = _rng(seed, "school_bus_gps", chunk)
    fix = np.arange(start, start + rows)
    routes = list(BUS_ROUTES)
    buses_per_route = 3
    bus = fix % (len(routes) * buses_per_route)
    tick = fix // (len(routes) * buses_per_route)
    route_idx = bus // buses_per_route
    lat = np.empty(rows)
    lon = np.empty(rows)
    speed = np.empty(rows)
    for r, name in enumerate(routes):  # a loop over four routes, not over rows
        pts = np.array([(p[1], p[2]) for p in BUS_ROUTES[name]])
        sel = route_idx == r
        legs = len(pts) - 1
        # One pass of the route takes 360 ticks (one hour); then it turns back.
        phase = (tick[sel] + (bus[sel] % buses_per_route) * 120) % 720
        pos = np.where(phase < 360, phase, 720 - phase) / 360 * legs
        leg = np.minimum(pos.astype(int), legs - 1)
        frac = pos - leg
        lat[sel] = pts[leg, 0] + (pts[leg + 1, 0] - pts[leg, 0]) * frac
        lon[sel] = pts[leg, 1] + (pts[leg + 1, 1] - pts[leg, 1]) * frac
        speed[sel] = np.clip(rng.normal(32, 9, sel.sum()), 0, 70)
    lat += rng.normal(0, 0.00005, rows)  # GPS jitter of a few metres
    lon += rng.normal(0, 0.00005, rows)
    ts = WEEK_START + pd.Timedelta(hours=-1) + pd.to_timedelta(tick * 10, unit="s")
    return pd.DataFrame(
        {
            "bus_id": _concat("粤B", _zfill(bus + 70_000, 5)),
            "route": np.array(routes)[route_idx],
            "timestamp": ts,
            "latitude": np.round(lat, 6),
            "longitude": np.round(lon, 6),
            "speed_kmh": np.round(speed, 1),
        }
    )


def _chunk_maker(
    table: str, rows: int, citizens: int
) -> Callable[[int, int, int, int], pd.DataFrame]:
    """The chunk maker of ``table``; tables about people also see the whole row count."""
    # Imported here: people_tables builds on this module's helpers.
    from examples import people_tables

    chunk_rows = CHUNK_ROWS  # read now, so a patched value reaches the citizens rebuild
    makers: dict[str, Callable[[int, int, int, int], pd.DataFrame]] = {
        "citizens": _citizens_chunk,
        "transit_trips": lambda s, r, seed, c: people_tables.transit_chunk(
            s, r, seed, c, rows, citizens
        ),
        "school_bus_gps": _bus_chunk,
        "student_boardings": lambda s, r, seed, c: people_tables.boardings_chunk(
            s, r, seed, c, rows
        ),
        "clinic_visits": lambda s, r, seed, c: people_tables.clinic_chunk(
            s, r, seed, c, rows, citizens, chunk_rows
        ),
    }
    if table not in makers:
        raise ValueError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
    return makers[table]


def iter_chunks(
    table: str,
    rows: int,
    seed: int = 0,
    *,
    citizens: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pd.DataFrame]:
    """Yield ``table`` in chunks; chunk boundaries are fixed so output depends only on the seed."""
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    make = _chunk_maker(table, rows, citizens or max(rows // 5, 1))
    for chunk, start in enumerate(range(0, rows, CHUNK_ROWS)):
        block = make(start, min(CHUNK_ROWS, rows - start), seed, chunk)
        for sub in range(0, len(block), chunk_rows):
            yield block.iloc[sub : sub + chunk_rows].reset_index(drop=True)


def generate(table: str, rows: int, seed: int = 0, *, citizens: int | None = None) -> pd.DataFrame:
    """One whole table in memory."""
    parts = list(iter_chunks(table, rows, seed, citizens=citizens))
    if not parts:  # an empty table keeps the columns and dtypes of a full one
        return _chunk_maker(table, 1, citizens or 1)(0, 1, seed, 0).iloc[:0]
    return pd.concat(parts, ignore_index=True)


def generate_citizens(rows: int, seed: int = 0) -> pd.DataFrame:
    return generate("citizens", rows, seed)


def write(
    table: str,
    rows: int,
    out: Path,
    seed: int = 0,
    *,
    fmt: str | None = None,
    encoding: str = "utf-8",
    citizens: int | None = None,
) -> Path:
    """Write a table to CSV or Parquet chunk by chunk, so memory stays bounded for 5M+ rows."""
    out = Path(out)
    fmt = fmt or ("parquet" if out.suffix == ".parquet" else "csv")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, got {fmt!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    writer = None
    try:
        with open(tmp, "wb") as fh:
            for i, chunk in enumerate(iter_chunks(table, rows, seed, citizens=citizens)):
                batch = pa.Table.from_pandas(chunk, preserve_index=False)
                if fmt == "parquet":
                    writer = writer or pq.ParquetWriter(fh, batch.schema)
                    writer.write_table(batch)
                elif encoding.lower().replace("-", "") in ("utf8", "utf_8"):
                    pacsv.write_csv(batch, fh, pacsv.WriteOptions(include_header=i == 0))
                else:
                    fh.write(chunk.to_csv(index=False, header=i == 0).encode(encoding))
            if writer is not None:
                writer.close()
            elif rows == 0:
                fh.write(generate(table, 0, seed).to_csv(index=False).encode(encoding))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=TABLES)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--format", choices=("csv", "parquet"), default=None)
    parser.add_argument("--encoding", default="utf-8")
    args = parser.parse_args(argv)
    out = args.out or Path(f"{args.table}.{args.format or 'csv'}")
    write(args.table, args.rows, out, args.seed, fmt=args.format, encoding=args.encoding)
    print(out)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
