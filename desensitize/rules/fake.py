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


def _drawn(draw: Callable[[], str], times: int) -> list[str]:
    """Distinct values of one Faker provider, drawn `times` times."""
    return list(dict.fromkeys(draw() for _ in range(times)))


def _combine(rng: np.random.Generator, n: int, *parts: list[str]) -> list[str]:
    """`n` values, each one random entry of every part, concatenated (numpy does the loop)."""
    out = np.full(n, "", dtype=object)
    for part in parts:
        out = out + np.array(part, dtype=object)[rng.integers(0, len(part), n)]
    return out.tolist()


def _names(fake: Faker, rng: np.random.Generator, n: int) -> list[str]:
    return _combine(rng, n, _drawn(fake.last_name, 300), _drawn(fake.first_name, 800))


def _addresses(fake: Faker, rng: np.random.Generator, n: int) -> list[str]:
    districts = [f"{d}区" for d in _drawn(fake.district, 100)]
    numbers = [f"{k}号" for k in range(1, 400)]
    places = (_drawn(fake.province, 100), _drawn(fake.city, 100), districts)
    return _combine(rng, n, *places, _drawn(fake.street_name, 100), numbers)


def _phones(fake: Faker, rng: np.random.Generator, n: int) -> list[str]:
    prefixes = _drawn(lambda: fake.phone_number()[:3], 200)
    four = [f"{k:04d}" for k in range(10_000)]
    return _combine(rng, n, prefixes, four, four)


def _companies(fake: Faker, rng: np.random.Generator, n: int) -> list[str]:
    return _combine(rng, n, _drawn(fake.city_name, 200), _drawn(fake.company, 600))


def _emails(fake: Faker, rng: np.random.Generator, n: int) -> list[str]:
    digits = [str(k) for k in range(1000)]
    domains = _drawn(fake.free_email_domain, 50)
    return _combine(rng, n, _drawn(fake.user_name, 500), digits, ["@"], domains)


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
        values.update(dict.fromkeys(_DRAWS[kind](fake, rng, POOL_SIZE + POOL_SIZE // 4)))
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
