"""The byte-level e-mail mask makes exactly what Arrow's kernels make, or steps aside.

Arrow's path (count the '@', split, join) is the reference: on random values with
no '@', several, empty parts, non-ASCII first characters and domains, on slices of an
array, the byte path must give the same strings; where it cannot (nulls, a domain too
long for its matrix) it returns None and the caller takes Arrow's path."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from desensitize.rules import email_bytes, mask
from desensitize.rules.email_bytes import email_masked_bytes

PARTS = ["", "a", "zhang", "张", "é", "🙂x", "@", "@@", "wang.li", "qq.com", "中国.cn", "x" * 30]


def _values(seed: int, n: int) -> list[str]:
    rng = np.random.default_rng(seed)
    pieces = rng.choice(len(PARTS), size=(n, 3))
    return [
        PARTS[a] + ("@" if rng.random() < 0.9 else "") + PARTS[b] + PARTS[c] for a, b, c in pieces
    ]


def _arrow_path(text: pa.Array, keep_first: bool, monkeypatch) -> list[str | None]:
    with monkeypatch.context() as patched:
        patched.setattr(mask, "email_masked_bytes", lambda *_, **__: None)
        return mask._email_masked(text, keep_first=keep_first).to_pylist()


@pytest.mark.parametrize("keep_first", [True, False])
def test_the_byte_path_makes_what_arrow_makes(keep_first, monkeypatch):
    for seed in range(20):
        values = pa.array(_values(seed, 400))
        for text in (values, values.slice(37, 200), values.slice(399)):
            fast = email_masked_bytes(text, keep_first=keep_first)
            assert fast is not None
            fast.validate(full=True)
            assert fast.to_pylist() == _arrow_path(text, keep_first, monkeypatch)


def test_an_empty_array_and_values_without_any_at_sign():
    for keep_first in (True, False):
        assert email_masked_bytes(pa.array([], pa.string()), keep_first=keep_first) is None
        plain = email_masked_bytes(pa.array(["abc", "", "x"]), keep_first=keep_first)
        assert plain.to_pylist() == ["****", "****", "****"]


def test_it_steps_aside_where_it_does_not_apply(monkeypatch):
    assert email_masked_bytes(pa.array(["a@b", None]), keep_first=True) is None
    long = pa.array(["a@" + "d" * (email_bytes.LONGEST_DOMAIN + 1), "b@qq.com"])
    assert email_masked_bytes(long, keep_first=False) is None
    assert email_masked_bytes(pa.array(["a@b"], pa.large_string()), keep_first=True) is None
    # the caller still masks them, by Arrow's path
    out = mask._email_masked(pa.array(["zhang@qq.com", None]), keep_first=True)
    assert out.to_pylist() == ["z***@qq.com", None]
    domain = "d" * (email_bytes.LONGEST_DOMAIN + 1)
    assert mask._email_masked(long, keep_first=False).to_pylist() == [
        "****@" + domain,
        "****@qq.com",
    ]
