"""Fixtures shared by every test package."""

from __future__ import annotations

import pandas as pd
import pytest

from examples.generate_city_data import generate


@pytest.fixture(scope="session")
def citizens_small() -> pd.DataFrame:
    """A small, seeded citizens table; copy it before changing it."""
    return generate("citizens", 2_000, seed=7)


@pytest.fixture(scope="session")
def city_tables() -> dict[str, pd.DataFrame]:
    tables = ("citizens", "transit_trips", "school_bus_gps", "student_boardings", "clinic_visits")
    return {t: generate(t, 500, seed=3) for t in tables}
