"""Column kind detection: vectorized value tests plus column-level heuristics."""

from __future__ import annotations

from desensitize.detect.base import ValueDetector
from desensitize.detect.column import DETECTORS, MATCH_THRESHOLD, Detection, detect_column
from desensitize.detect.finance import luhn_valid
from desensitize.detect.resident_id import is_resident_id

__all__ = [
    "DETECTORS",
    "MATCH_THRESHOLD",
    "Detection",
    "ValueDetector",
    "detect_column",
    "is_resident_id",
    "luhn_valid",
]
