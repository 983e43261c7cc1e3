"""Re-identification risk when the table is a sample of a population (journalist, marketer).

The prosecutor model (risk.py) assumes the attacker knows the target is in the table.
When the table is a sample drawn with probability `fraction` from a population, a class
of f records in the sample stands for F >= f persons in the population, unknown. As in
sdcMicro's individual risk (Benedetti and Franconi), F - f follows a negative binomial
law with f successes and success probability `fraction`, and a record's risk is
``E[1 / F | f]``:

- **journalist** risk: the largest record risk, the attacker matching any one target
  against the release;
- **marketer** risk: the mean record risk, the share of records re-identified when the
  attacker tries to match them all;
- **population uniques**: the expected number of sample uniques that are unique in the
  population too, ``P(F = 1 | f = 1) = fraction`` each.

With `fraction` = 1 the table is the population and every figure is the prosecutor's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["PopulationRisk", "population_risk", "record_risk"]

TAIL = 1e-12  # the negative binomial's mass left out of each expectation
MAX_TERMS = 2_000_000  # beyond, the expectation's first-order approximation is used


@dataclass(frozen=True)
class PopulationRisk:
    """Sample-based estimates of the risk of a release drawn from a population."""

    rows: int
    fraction: float
    sample_uniques: int
    population_uniques: float
    journalist: float
    marketer: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "fraction": self.fraction,
            "sample_uniques": self.sample_uniques,
            "population_uniques": self.population_uniques,
            "journalist_risk": self.journalist,
            "marketer_risk": self.marketer,
        }


def record_risk(sizes: np.ndarray, fraction: float) -> np.ndarray:
    """E[1/F | f] for each sample class size f (any positive integers)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    sizes = np.asarray(sizes, dtype=np.int64)
    if np.any(sizes < 1):
        raise ValueError("class sizes must be positive")
    if fraction == 1:
        return 1.0 / sizes
    p, q = fraction, 1 - fraction
    out = np.empty(len(sizes), dtype=np.float64)
    for f in np.unique(sizes):  # a few distinct sizes, each one sum over F
        if f <= 2:  # Benedetti and Franconi's closed forms
            odds = p / q
            risk = odds * np.log(1 / p) if f == 1 else odds - odds**2 * np.log(1 / p)
        else:
            law = stats.nbinom(int(f), p)
            terms = int(law.ppf(1 - TAIL)) + 1
            if terms > MAX_TERMS:  # a tiny fraction: F is large and nearly f / p
                risk = p / (f - q)
            else:
                extra = np.arange(terms)
                risk = float(np.sum(law.pmf(extra) / (f + extra)))
        out[sizes == f] = risk
    return out


def population_risk(sizes: np.ndarray, fraction: float) -> PopulationRisk:
    """The journalist and marketer risks and population uniques from the sample's
    class sizes (rows per combination of the released quasi-identifiers)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    sizes = sizes[sizes > 0]
    if not len(sizes):
        raise ValueError("no classes: the sample is empty")
    risk = record_risk(sizes, fraction)
    rows = int(sizes.sum())
    uniques = int((sizes == 1).sum())
    return PopulationRisk(
        rows=rows,
        fraction=fraction,
        sample_uniques=uniques,
        population_uniques=uniques * fraction,
        journalist=float(risk.max()),
        marketer=float(np.dot(sizes, risk) / rows),
    )
