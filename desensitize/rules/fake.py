"""`fake`: replace each value by a realistic fake, the same fake for the same value.

Each kind has a pool of 16,384 distinct zh_CN values, drawn once per process
from a fixed seed (Faker costs tens of microseconds per value, so never per row).
A value's fake is the pool entry at its keyed PRF modulo the pool size; a power
of two keeps that uniform. If a value would map to itself, the next entry is used.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

from desensitize.prf import prf
from desensitize.rules.base import Context, Params, Rule, as_text, map_distinct

__all__ = ["KINDS", "POOL_SIZE", "Fake", "pool"]

POOL_SIZE = 2**14
_SEED = 20_240_601
_MAX_ROUNDS = 20


def _names(fake: Faker, rng: np.random.Generator, n: int) -> list[str]:
    surnames = list(dict.fromkeys(fake.last_name() for _ in range(600)))
    given = list(dict.fromkeys(fake.first_name() for _ in range(3000)))
    return [surnames[i] + given[j] for i, j in _pairs(rng, n, len(surnames), len(given))]


def _addresses(fake: Faker, rng: np.random.Generator, n: int) -> list[str]:
    places = [f"{fake.province()}{fake.city()}{fake.district()}区" for _ in range(400)]
    streets = [fake.street_name() for _ in range(400)]
    pairs = _pairs(rng, n, len(places), len(streets))
    numbers = rng.integers(1, 400, n).tolist()
    return [f"{places[i]}{streets[j]}{k}号" for (i, j), k in zip(pairs, numbers, strict=True)]


def _phones(fake: Faker, rng: np.random.Generator, n: int) -> list[str]:
    return [fake.phone_number() for _ in range(n)]


def _companies(fake: Faker, rng: np.random.Generator, n: int) -> list[str]:
    cities = [fake.city_name() for _ in range(300)]
    firms = [fake.company() for _ in range(600)]
    return [cities[i] + firms[j] for i, j in _pairs(rng, n, len(cities), len(firms))]


def _emails(fake: Faker, rng: np.random.Generator, n: int) -> list[str]:
    users = [fake.user_name() for _ in range(2000)]
    domains = [fake.free_email_domain() for _ in range(50)]
    pairs = _pairs(rng, n, len(users), len(domains))
    digits = rng.integers(0, 1000, n).tolist()
    return [f"{users[i]}{d}@{domains[j]}" for (i, j), d in zip(pairs, digits, strict=True)]


def _pairs(rng: np.random.Generator, n: int, a: int, b: int) -> list[tuple[int, int]]:
    return list(zip(rng.integers(0, a, n).tolist(), rng.integers(0, b, n).tolist(), strict=True))


_DRAWS: dict[str, Callable[[Faker, np.random.Generator, int], list[str]]] = {
    "name": _names,
    "address": _addresses,
    "phone": _phones,
    "company": _companies,
    "email": _emails,
}
KINDS = tuple(_DRAWS)


@lru_cache(maxsize=len(KINDS))
def pool(kind: str) -> pa.Array:
    """The fixed pool of `POOL_SIZE` distinct fake values of one kind (built once)."""
    fake = Faker("zh_CN")
    fake.seed_instance(_SEED)
    rng = np.random.default_rng(_SEED)
    values: dict[str, None] = {}
    for _ in range(_MAX_ROUNDS):
        values.update(dict.fromkeys(_DRAWS[kind](fake, rng, POOL_SIZE)))
        if len(values) >= POOL_SIZE:
            break
    else:
        raise RuntimeError(f"the {kind!r} fake pool has only {len(values)} distinct values")
    return pa.array(list(values)[:POOL_SIZE], pa.string())


class Fake(Rule):
    """Consistent fake replacement from a fixed pool, chosen by a keyed PRF."""

    name = "fake"
    text_input = True
    keyed = True

    def configure(self, params: Params) -> None:
        self.kind = params.choice("kind", KINDS)
        if self.kind is None:
            raise params.fail(f"parameter 'kind' is required: one of {', '.join(KINDS)}")

    def transform(self, values: pa.Array, ctx: Context) -> pa.Array:
        key = ctx.keys.derive(self.key_label)
        return map_distinct(values, lambda distinct: self._fakes(key, distinct))

    def _fakes(self, key: bytes, distinct: pa.Array) -> pa.Array:
        digest = prf(key, distinct)
        index = digest[:, :8].copy().view(">u8").ravel() % POOL_SIZE
        choices = pool(self.kind)
        fakes = choices.take(pa.array(index))
        same = pc.fill_null(pc.equal(fakes, as_text(distinct)), False)
        if pc.any(same).as_py():
            step = same.to_numpy(zero_copy_only=False)
            fakes = choices.take(pa.array(np.where(step, (index + 1) % POOL_SIZE, index)))
        return fakes
