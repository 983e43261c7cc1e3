"""The DP query cache holds decoded columns within its byte budget, least recently used
out first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchange.services.query_cache import QueryCache, size_of


def column(n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.float64)  # 8 bytes a row


def test_least_recently_used_columns_go_first_when_the_budget_is_full():
    cache = QueryCache(max_bytes=8 * 250)
    cache.put("a", column(100))
    cache.put("b", column(100))
    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put("c", column(100))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    assert cache.bytes == 8 * 200 <= cache.max_bytes


def test_an_entry_larger_than_the_budget_is_returned_but_not_kept():
    cache = QueryCache(max_bytes=100)
    big = column(1_000)
    assert cache.put("big", big) is big
    assert len(cache) == 0 and cache.bytes == 0


def test_get_or_make_makes_once_and_counts_hits():
    cache = QueryCache()
    made: list[int] = []
    for _ in range(3):
        cache.get_or_make("k", lambda: made.append(1) or column(10))
    assert made == [1] and (cache.hits, cache.misses) == (2, 1)


def test_string_columns_count_their_characters():
    text = pd.Series(["深圳市南山区" * 10] * 1_000)
    assert size_of(text) > 1_000 * 60
    with pytest.raises(TypeError, match="Series and arrays"):
        size_of([1, 2, 3])
