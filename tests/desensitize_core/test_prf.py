"""The batched PRFs against their RFC test vectors and a reference implementation."""

from __future__ import annotations

import hashlib
import hmac
import os

import numpy as np
import pyarrow as pa
import pytest
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

from desensitize.prf import aes_cmac, hmac_sha256, prf

RFC4493_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
RFC4493_MESSAGE = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (0, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ],
)
def test_aes_cmac_matches_rfc4493_examples(length: int, expected: str) -> None:
    message = pa.array([RFC4493_MESSAGE[:length]], pa.binary())
    assert aes_cmac(RFC4493_KEY, message)[0].tobytes().hex() == expected


def test_aes_cmac_computes_all_rfc4493_examples_in_one_batch() -> None:
    messages = pa.array([RFC4493_MESSAGE[:n] for n in (64, 0, 40, 16)], pa.binary())
    digests = [row.tobytes().hex()[:8] for row in aes_cmac(RFC4493_KEY, messages)]
    assert digests == ["51f0bebf", "bb1d6929", "dfa66747", "070a16b4"]


def test_aes_cmac_agrees_with_a_reference_on_every_length_and_slice() -> None:
    rng = np.random.default_rng(0)
    values = [os.urandom(int(n)) for n in rng.integers(0, 80, 500)] + [b"x" * 16, b"y" * 32]
    messages = pa.array(values, pa.binary()).slice(3)
    for value, digest in zip(values[3:], aes_cmac(RFC4493_KEY, messages), strict=True):
        reference = CMAC(algorithms.AES(RFC4493_KEY))
        reference.update(value)
        assert digest.tobytes() == reference.finalize()


def test_aes_cmac_reads_text_as_utf8() -> None:
    reference = CMAC(algorithms.AES(RFC4493_KEY))
    reference.update("张三".encode())
    assert aes_cmac(RFC4493_KEY, pa.array(["张三"]))[0].tobytes() == reference.finalize()


RFC4231_CASES = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 20,
        b"\xdd" * 50,
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    ),
    (
        bytes(range(1, 26)),
        b"\xcd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
]


@pytest.mark.parametrize(("key", "message", "expected"), RFC4231_CASES)
def test_hmac_sha256_matches_rfc4231_cases(key: bytes, message: bytes, expected: str) -> None:
    assert hmac_sha256(key, pa.array([message], pa.binary()))[0].tobytes().hex() == expected


def test_prf_picks_the_algorithm_by_name() -> None:
    message = pa.array(["a"])
    key = bytes(32)
    assert prf(key, message, "hmac-sha256")[0].tobytes() == hmac.digest(key, b"a", hashlib.sha256)
    assert prf(key, message).shape == (1, 16)
    with pytest.raises(ValueError, match="unknown PRF algorithm 'md5'"):
        prf(key, message, "md5")  # type: ignore[arg-type]
