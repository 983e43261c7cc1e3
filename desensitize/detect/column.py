"""Detect the kind of one column from a sample of its values."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from desensitize.detect.address import is_cn_address
from desensitize.detect.base import ValueDetector, name_has_hint
from desensitize.detect.contact import ipv4_prefix_length, is_cn_mobile, is_email, is_ipv4
from desensitize.detect.finance import is_bank_card
from desensitize.detect.names import is_cn_name
from desensitize.detect.numeric import NumericFacts, numeric_kind
from desensitize.detect.plate import is_cn_plate
from desensitize.detect.resident_id import is_resident_id
from desensitize.detect.temporal import has_time_of_day, is_date, parse_dates
from desensitize.detect.text import is_small_category, text_kind

__all__ = ["DETECTORS", "MATCH_THRESHOLD", "Detection", "detect_column"]

# Share of non-null values that must match for a column to take a value kind.
MATCH_THRESHOLD = 0.8
# Kinds whose shares are this close count as a tie, which the column name breaks.
TIE_MARGIN = 0.05

# Order matters among ties without a name hint: stricter formats come first.
DETECTORS: tuple[ValueDetector, ...] = (
    ValueDetector("cn_resident_id", is_resident_id, ("resident", "idcard", "id_card", "身份证")),
    ValueDetector("bank_card", is_bank_card, ("bank", "card", "银行卡", "卡号")),
    ValueDetector("cn_mobile", is_cn_mobile, ("mobile", "phone", "tel", "手机", "电话")),
    ValueDetector("email", is_email, ("mail", "邮箱")),
    ValueDetector("cn_plate", is_cn_plate, ("plate", "vehicle", "car", "车牌")),
    ValueDetector("ipv4", is_ipv4, ("ip",)),
    ValueDetector("datetime", is_date, ("date", "time", "birth", "日期", "时间")),
    ValueDetector("cn_name", is_cn_name, ("name", "姓名", "名字"), strong=False),
    ValueDetector("cn_address", is_cn_address, ("address", "addr", "地址", "住址"), strong=False),
)
BIRTH_HINTS = ("birth", "dob", "出生", "生日")


@dataclass(frozen=True)
class Detection:
    """The kind of a column, the share of sampled non-null values that fit it, and facts
    the suggested rule needs (an IP prefix length, whether a date is a birth date)."""

    kind: str
    share: float
    hint_used: bool = False
    details: dict[str, object] = field(default_factory=dict)


def detect_column(column: str, values: pd.Series) -> Detection:
    """Detect the kind of ``values`` (a sample of the column called ``column``)."""
    values = values.dropna()
    if values.empty:
        return Detection("empty", 0.0)
    if pd.api.types.is_bool_dtype(values.dtype):
        return Detection("boolean", 1.0)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _temporal(column, pd.to_datetime(values, utc=True), 1.0)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return _numeric(column, values)
    if pd.api.types.infer_dtype(values, skipna=True) in ("date", "datetime", "datetime64"):
        parsed = pd.to_datetime(values, errors="coerce", utc=True)
        return _temporal(column, parsed, float(parsed.notna().mean()))
    return _text(column, values.astype(str).str.strip())


def _text(column: str, text: pd.Series) -> Detection:
    best = _best_value_kind(column, text)
    if best is not None:
        detector, share, hint_used = best
        if detector.strong or not is_small_category(text):
            if detector.kind == "datetime":
                return _temporal(column, parse_dates(text), share)
            if detector.kind == "ipv4":
                return Detection("ipv4", share, hint_used, {"prefix": ipv4_prefix_length(text)})
            return Detection(detector.kind, share, hint_used)
    kind, share = text_kind(text)
    return Detection(kind, share)


def _numeric(column: str, values: pd.Series) -> Detection:
    facts = NumericFacts(values.to_numpy(dtype=np.float64))
    if facts.integral and facts.count:
        # Phone and card numbers are often loaded as integers; their text still checks out.
        best = _best_value_kind(column, pd.Series(facts.values.astype(np.int64).astype(str)))
        if best is not None and best[0].strong and best[0].kind != "datetime":
            return Detection(best[0].kind, best[1], best[2])
    kind, share, hint_used = numeric_kind(column, facts)
    # No bounds from the values here: clamp bounds are DP estimates made by the profile.
    return Detection(kind, share, hint_used)


def _temporal(column: str, parsed: pd.Series, share: float) -> Detection:
    kind = "datetime" if has_time_of_day(parsed) else "date"
    details: dict[str, object] = {"birth": name_has_hint(column, BIRTH_HINTS)}
    return Detection(kind, share, details=details)


def _best_value_kind(column: str, text: pd.Series) -> tuple[ValueDetector, float, bool] | None:
    """The detector most values match, a column-name hint breaking near-ties."""
    shares = [(detector, float(np.mean(detector.match(text)))) for detector in DETECTORS]
    passing = [(d, s) for d, s in shares if s >= MATCH_THRESHOLD]
    if not passing:
        return None
    top = max(s for _, s in passing)
    tied = [(d, s) for d, s in passing if s >= top - TIE_MARGIN]
    hinted = [(d, s) for d, s in tied if name_has_hint(column, d.hints)]
    if hinted and len(hinted) < len(tied):
        return hinted[0][0], hinted[0][1], True
    detector, share = next((d, s) for d, s in tied if s == top)
    return detector, share, False
