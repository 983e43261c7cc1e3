"""Each rule over whole columns: masks, tokens, fakes, generalizing, suppression, noise."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pyarrow as pa
import pytest

from desensitize import RULES, Keyring
from desensitize.prf import prf
from desensitize.rules.base import Context
from desensitize.rules.fake import KINDS, POOL_SIZE, pool


def run(rule: str, params: dict, values: list | pa.Array, keys: Keyring, **kw) -> list:
    column = values if isinstance(values, pa.Array) else pa.array(values)
    return RULES[rule]("c", params, **kw).transform(column, Context(keys)).to_pylist()


def test_registry_lists_every_rule() -> None:
    assert set(RULES) == {
        "keep",
        "mask",
        "token",
        "fake",
        "generalize",
        "suppress",
        "top_bottom_code",
        "noise",
    }


@pytest.mark.parametrize(
    ("preset", "value", "expected"),
    [
        ("cn_resident_id", "110105198703141234", "110105********1234"),
        ("cn_resident_id", "44030519870314123X", "440305********123X"),
        ("cn_mobile", "13812345678", "138****5678"),
        ("bank_card", "6222021234567890123", "***************0123"),
        ("email", "alice@example.com", "a***@example.com"),
        ("email", "not an address", "****"),
        ("cn_name", "张三丰", "张**"),
        ("cn_name", "欧阳娜娜", "欧阳**"),
        ("cn_name", "李", "*"),
        ("address", "广东省深圳市南山区科技园路88号", "广东省深圳市南山区****"),
        ("address", "北京市朝阳区建国路1号", "北京市朝阳区****"),
        ("address", "广西壮族自治区南宁市青秀区民族大道", "广西壮族自治区南宁市青秀区****"),
        ("address", "somewhere", "****"),
    ],
)
def test_mask_presets(preset: str, value: str, expected: str, keys: Keyring) -> None:
    assert run("mask", {"preset": preset}, [value], keys) == [expected]


def test_email_mask_gives_the_regex_result_on_odd_values_and_slices(keys: Keyring) -> None:
    import pyarrow.compute as pc

    def by_regex(text: pa.Array) -> list:
        parts = pc.extract_regex(text, r"^(?P<first>[^@])[^@]*@(?P<domain>[^@]+)$")
        first, domain = pc.struct_field(parts, [0]), pc.struct_field(parts, [1])
        masked = pc.coalesce(pc.binary_join_element_wise(first, "***@", domain, ""), "****")
        return pc.if_else(pc.is_valid(text), masked, pa.scalar(None, pa.string())).to_pylist()

    odd = ["a\nb@x", "@x", "a@", "a@@b", "ab@c@d", "张三@qq.com", "", None, "é@x", "🙂b@d.e"]
    rng = np.random.default_rng(5)
    drawn = ["".join(rng.choice(list("ab@é张\n."), rng.integers(0, 7))) for _ in range(5_000)]
    values = pa.array(odd + [None if i % 9 == 0 else v for i, v in enumerate(drawn)])
    for column in (values, values.slice(3), values.slice(7, 2_000), values.slice(0, 0)):
        assert run("mask", {"preset": "email"}, column, keys) == by_regex(column)
    assert run("mask", {"preset": "email"}, odd, keys)[:6] == [
        "a***@x",
        "****",
        "****",
        "****",
        "****",
        "张***@qq.com",
    ]


def test_mask_hides_a_value_too_short_to_keep_its_ends(keys: Keyring) -> None:
    assert run("mask", {"preset": "cn_mobile"}, ["1381234", "12"], keys) == ["*******", "**"]


def test_mask_keeps_nulls_and_masks_numbers_as_text(keys: Keyring) -> None:
    params = {"keep_first": 2, "keep_last": 1, "char": "#"}
    assert run("mask", params, [123456789, None], keys) == ["12######9", None]


def test_tokens_are_deterministic_under_one_key(keys: Keyring) -> None:
    tokens = run("token", {}, ["13812345678", "13900000000", "13812345678", None], keys)
    assert tokens[0] == tokens[2] != tokens[1]
    assert tokens[3] is None
    assert tokens[0].startswith("tk_") and len(tokens[0]) == 3 + 16


def test_tokens_differ_across_keys(keys: Keyring, other_keys: Keyring) -> None:
    values = [f"1381234{i:04d}" for i in range(100)]
    assert not set(run("token", {}, values, keys)) & set(run("token", {}, values, other_keys))


@pytest.mark.parametrize("algorithm", ["aes-cmac", "hmac-sha256"])
def test_tokens_are_no_bare_hash_of_the_value(algorithm: str, keys: Keyring) -> None:
    value = "13812345678"
    token = run("token", {"algorithm": algorithm, "prefix": "", "length": 32}, [value], keys)[0]
    for name in ("md5", "sha1", "sha256", "sha512", "blake2b", "sha3_256"):
        digest = hashlib.new(name, value.encode()).hexdigest()
        assert not digest.startswith(token[:16])


def test_token_alphabet_length_and_prefix_are_configurable(keys: Keyring) -> None:
    token = run("token", {"alphabet": "base32", "length": 20, "prefix": "P-"}, ["x"], keys)[0]
    assert token.startswith("P-") and len(token) == 22
    assert set(token[2:]) <= set("abcdefghijklmnopqrstuvwxyz234567")


def test_linked_columns_share_tokens_and_others_do_not(keys: Keyring) -> None:
    a = run("token", {}, ["C1"], keys, link="person")
    b = RULES["token"]("other", {}, link="person").transform(pa.array(["C1"]), Context(keys))
    c = RULES["token"]("other", {}).transform(pa.array(["C1"]), Context(keys))
    assert a == b.to_pylist() != c.to_pylist()


def test_tokens_of_equal_numbers_and_text_agree(keys: Keyring) -> None:
    assert run("token", {}, [42], keys) == run("token", {}, ["42"], keys)


@pytest.mark.parametrize("kind", KINDS)
def test_fake_pools_hold_many_distinct_values(kind: str) -> None:
    values = pool(kind)
    assert len(values) == POOL_SIZE >= 10_000
    assert len(set(values.to_pylist())) == POOL_SIZE


def test_fakes_are_consistent_under_one_key(keys: Keyring, other_keys: Keyring) -> None:
    names = ["张三", "李四", "张三", None]
    fakes = run("fake", {"kind": "name"}, names, keys)
    assert fakes[0] == fakes[2] != fakes[1] and fakes[3] is None
    assert fakes == run("fake", {"kind": "name"}, names, keys)
    assert set(fakes[:2]) <= set(pool("name").to_pylist())
    many = [f"name{i}" for i in range(50)]
    assert run("fake", {"kind": "name"}, many, keys) != run(
        "fake", {"kind": "name"}, many, other_keys
    )


def test_a_fake_never_equals_its_input() -> None:
    values = pool("phone")
    rule = RULES["fake"]("c", {"kind": "phone"})
    for attempt in range(50):  # find a key under which some value's own slot is itself
        keys = Keyring(f"fake-collision-search-{attempt:04d}".encode())
        slots = prf(keys.derive(rule.key_label), values)[:, :8].copy().view(">u8").ravel()
        if np.any(slots % POOL_SIZE == np.arange(POOL_SIZE)):
            break
    else:
        pytest.fail("no key maps a pool value to itself")
    fakes = rule.transform(values, Context(keys)).to_numpy(zero_copy_only=False)
    assert not np.any(fakes == values.to_numpy(zero_copy_only=False))


@pytest.mark.parametrize(
    ("params", "values", "expected"),
    [
        (
            {"width": 10},
            [1, 15, 23.5, None, -3],
            ["[0, 10)", "[10, 20)", "[20, 30)", None, "[-10, 0)"],
        ),
        ({"width": 0.1}, [0.35], ["[0.3, 0.4)"]),
        (
            {"edges": [0, 100, 1000]},
            [-1, 50, 100, 5000],
            ["[-inf, 0)", "[0, 100)", "[100, 1000)", "[1000, inf)"],
        ),
        ({"to": "month"}, pa.array([dt.date(1987, 3, 14), None]), ["1987-03", None]),
        ({"to": "hour"}, pa.array([dt.datetime(1987, 3, 14, 8, 30)]), ["1987-03-14 08"]),
        ({"to": "decade"}, pa.array([dt.datetime(1987, 3, 14)]), ["1980s"]),
        ({"to": "year"}, ["1987-03-14"], ["1987"]),
        ({"prefix": 3}, ["518057", "5180", None], ["518***", "518*", None]),
        ({"prefix": 6, "pad": "0"}, ["110105198703141234"], ["110105000000000000"]),
        ({"decimals": 2}, [22.5432, -113.9876], [22.54, -113.99]),
        ({"geohash": 5}, ["22.5431,114.0579", None], ["ws105", None]),
        ({"hierarchy": [{"南山街道": "南山区"}, {"南山区": "深圳市"}]}, ["南山街道"], ["南山街道"]),
        (
            {"hierarchy": [{"南山街道": "南山区"}, {"南山区": "深圳市"}], "level": 2},
            ["南山街道", None],
            ["深圳市", None],
        ),
    ],
)
def test_generalize_modes(params: dict, values, expected: list, keys: Keyring) -> None:
    assert run("generalize", params, values, keys) == expected


@pytest.mark.parametrize(
    ("params", "value", "labels"),
    [
        ({"to": "month"}, "1987-03-14", ("month", "year", "decade", "*")),
        ({"prefix": 2}, "518057", ("prefix 2", "prefix 1", "prefix 0", "*")),
        ({"geohash": 2}, "22.5,114.0", ("geohash 2", "geohash 1", "*")),
    ],
)
def test_generalize_ladders_climb_to_a_star(
    params: dict, value: str, labels: tuple, keys: Keyring
) -> None:
    ladder = RULES["generalize"]("c", params).ladder()
    assert ladder.labels == labels
    base = ladder.base(pa.array([value]), Context(keys))
    assert ladder.at(base, ladder.top).to_pylist() == ["*"]
    assert ladder.at(base, 0).to_pylist() != ["*"]


def test_suppress_nulls_a_column_or_only_matching_values(keys: Keyring) -> None:
    assert run("suppress", {}, ["a", "b"], keys) == [None, None]
    assert run("suppress", {"where": {"in": ["a"]}}, ["a", "b"], keys) == [None, "b"]
    rule = RULES["suppress"]("c", {"where": {"matches": "^a"}, "drop_rows": True})
    assert rule.drop_rows(pa.array(["ab", "b", None])).to_pylist() == [True, False, False]


def test_top_bottom_code_clips_to_bounds_or_fitted_quantiles(keys: Keyring) -> None:
    assert run("top_bottom_code", {"bounds": [0, 10]}, [-5, 5, 50], keys) == [0, 5, 10]
    rule = RULES["top_bottom_code"]("c", {"quantiles": [0.1, 0.9]})
    values = pa.array(list(range(101)))
    state = rule.fit(values)
    assert state == (10.0, 90.0)
    out = rule.transform(values, Context(keys, state=state)).to_pylist()
    assert min(out) == 10 and max(out) == 90 and out[50] == 50


def test_noise_is_keyed_bounded_and_block_aligned(keys: Keyring, other_keys: Keyring) -> None:
    rule = RULES["noise"]("income", {"epsilon": 1.0, "bounds": [0, 1000]})
    values = pa.array(np.arange(1000.0))
    once = rule.transform(values, Context(keys)).to_numpy()
    assert np.array_equal(once, rule.transform(values, Context(keys)).to_numpy())
    assert not np.array_equal(once, rule.transform(values, Context(other_keys)).to_numpy())
    assert once.min() >= 0 and once.max() <= 1000 and not np.array_equal(once, np.arange(1000.0))
    with pytest.raises(ValueError, match="row_offset must be a multiple"):
        rule.transform(values, Context(keys, row_offset=7))


def test_noise_keeps_missing_values_missing(keys: Keyring) -> None:
    out = run("noise", {"epsilon": 1.0, "bounds": [0, 10]}, [1.0, None], keys)
    assert out[1] is None and 0 <= out[0] <= 10


@pytest.mark.parametrize(("rule", "params"), [("token", {}), ("fake", {"kind": "name"})])
def test_unique_and_repeating_columns_get_the_same_values(
    rule: str, params: dict, keys: Keyring
) -> None:
    # Long columns of distinct IDs skip factorizing; short pieces factorize. Same output.
    values = pa.array([f"ID{i:06d}" if i % 97 else None for i in range(12_000)])
    whole = RULES[rule]("c", params).transform(values, Context(keys))
    pieces = [
        RULES[rule]("c", params).transform(values.slice(start, 1_000), Context(keys))
        for start in range(0, len(values), 1_000)
    ]
    assert whole.to_pylist() == pa.concat_arrays(pieces).to_pylist()
    assert whole.null_count == values.null_count
