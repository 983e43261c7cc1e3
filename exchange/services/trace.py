"""Leak tracing: name the lease a leaked file came from.

Every lease of a release carries its own fingerprints: pseudonyms keyed per lease, and
a keyed dither on each noisy number (desensitize.watermark). Both survive deleting
columns, keeping a subset of rows and re-ordering them: for each candidate lease the
exchange recomputes what that lease released on the file's columns and measures the
share of the file's values it explains. The best lease wins; its score is that share.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from desensitize import Policy
from desensitize.watermark import match_share
from exchange.context import Exchange
from exchange.db.models import Lease, Release
from exchange.errors import Invalid, MissingRow
from exchange.services import releases
from exchange.services.extracts import lease_values
from exchange.services.leases import lease_keys

FINGERPRINT_RULES = ("token", "fake", "noise")
MAX_CANDIDATES_SHOWN = 5


def read_leak(data: bytes, filename: str) -> pd.DataFrame:
    """A leaked extract as CSV (UTF-8) or Parquet; every value stays text but numbers."""
    try:
        if data[:4] == b"PAR1" or filename.lower().endswith((".parquet", ".pq")):
            return pd.read_parquet(io.BytesIO(data))
        return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    except Exception:  # noqa: BLE001 - any parse failure is the caller's bad file
        raise Invalid("the file is neither a readable CSV (UTF-8) nor Parquet file") from None


def trace(session: Session, exchange: Exchange, leak: pd.DataFrame) -> dict[str, Any]:
    """The lease whose fingerprints best explain `leak`, with a score in [0, 1]."""
    if leak.empty:
        raise Invalid("the file has no rows to trace")
    leases = session.scalars(
        select(Lease).where(Lease.extract_name.is_not(None), Lease.release_id.is_not(None))
    ).all()
    cache: dict[tuple[str, str], pa.Table] = {}
    scored = []
    for lease in leases:
        score = _score(session, exchange, lease, leak, cache)
        if score is not None:
            scored.append({"lease_id": lease.id, "dataset_id": lease.dataset_id, **score})
    scored.sort(key=lambda s: -s["score"])
    if not scored:
        return {"lease_id": None, "score": 0.0, "reason": _no_fingerprint(leak), "candidates": []}
    best = scored[0]
    runner_up = scored[1]["score"] if len(scored) > 1 else 0.0
    return {
        "lease_id": best["lease_id"] if best["score"] > 0 else None,
        "dataset_id": best["dataset_id"],
        "score": best["score"],
        "margin": round(best["score"] - runner_up, 6),
        "columns": best["columns"],
        "rows": len(leak),
        "candidates": scored[:MAX_CANDIDATES_SHOWN],
    }


def _score(
    session: Session,
    exchange: Exchange,
    lease: Lease,
    leak: pd.DataFrame,
    cache: dict[tuple[str, str], pa.Table],
) -> dict[str, Any] | None:
    leaked_columns = [str(c) for c in leak.columns]
    if not set(leaked_columns) <= set(lease.columns):
        return None  # the file has a column this lease never had
    release = session.get(Release, lease.release_id)  # the caller picks leases that have one
    if release is None:
        raise MissingRow("releases", lease.release_id)
    policy = Policy.from_dict(release.policy)
    marked = [c for c in leaked_columns if _rule_name(policy, c) in FINGERPRINT_RULES]
    if not marked:
        return None
    keys = lease_keys(exchange, lease)
    shares = {}
    for name in marked:
        key = (release.id, name)
        if key not in cache:
            cache[key] = releases.read(exchange, release, [name])
        table = cache[key]
        values = table.column(name).combine_chunks()
        rows = table.column(releases.ROW).to_numpy()
        expected = lease_values(policy, name, values, rows, keys)
        if _rule_name(policy, name) == "noise":
            got = pd.to_numeric(leak[name], errors="coerce").to_numpy(dtype=np.float64)
            shares[name] = match_share(got, expected.to_numpy(zero_copy_only=False))
        else:
            expected = set(expected.to_pylist())
            got = leak[name].dropna().astype(str)
            shares[name] = float(got.isin(expected).mean()) if len(got) else 0.0
    return {"score": round(float(np.mean(list(shares.values()))), 6), "columns": shares}


def _no_fingerprint(leak: pd.DataFrame) -> str:
    return (
        "no lease holds a fingerprinted column (pseudonym or noisy number) among the file's "
        f"columns {', '.join(map(str, leak.columns))}"
    )


def _rule_name(policy: Policy, column: str) -> str | None:
    rule = policy.column(column).rule
    return rule.name if rule is not None else None
