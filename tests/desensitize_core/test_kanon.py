"""k-anonymity and l-diversity: enforced by the engine, checked here by an independent groupby."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from desensitize import KAnonymityError, Keyring, Policy, apply
from desensitize.kanon import COUNT, ClassEncoder, ComboCounts, verify
from examples.generate_city_data import generate_citizens

QIS = ["birth_date", "gender", "district"]


@pytest.fixture(scope="module")
def citizens() -> pd.DataFrame:
    frame = generate_citizens(3000, seed=11)
    rng = np.random.default_rng(11)
    frame["diagnosis"] = rng.choice(["flu", "asthma", "diabetes", "ulcer"], len(frame))
    return frame


def smallest_class(frame: pd.DataFrame, qis: list[str]) -> int:
    return int(frame.groupby(qis, dropna=False).size().min())


def test_output_is_k_anonymous_over_its_quasi_identifiers(
    citizens: pd.DataFrame, citizen_policy: dict, keys: Keyring
) -> None:
    result = apply(citizens, citizen_policy, keys)
    assert smallest_class(result.frame, QIS) >= 5
    assert smallest_class(citizens, QIS) == 1  # the raw table was far from it
    report = result.report
    assert report.risk_after["k_anonymous"] and not report.risk_before["k_anonymous"]
    assert report.rows_out == len(result.frame) == report.rows_in - report.rows_suppressed


def test_suppression_stays_within_the_policy_limit(
    citizens: pd.DataFrame, citizen_policy: dict, keys: Keyring
) -> None:
    report = apply(citizens, citizen_policy, keys).report
    assert 0 < report.rows_suppressed <= 0.05 * len(citizens)
    levels = report.k_anonymity["levels"]
    assert set(levels) == set(Policy.from_dict(citizen_policy).released_quasi_identifiers)
    assert levels["birth_date"]["generalization"] in {"month", "year", "decade", "*"}
    assert 0 <= report.k_anonymity["information_loss"] <= 1


def test_a_zero_suppression_limit_generalizes_further(
    citizens: pd.DataFrame, citizen_policy: dict, keys: Keyring
) -> None:
    result = apply(citizens, {**citizen_policy, "max_suppression": 0}, keys)
    assert result.report.rows_suppressed == 0 and len(result.frame) == len(citizens)
    assert smallest_class(result.frame, QIS) >= 5


def test_the_greedy_search_prefers_coarser_dates_to_losing_the_district(
    citizens: pd.DataFrame, citizen_policy: dict, keys: Keyring
) -> None:
    # Tokens, not masks: a masked resident ID repeats the district in its region code.
    columns = {
        name: (
            {"class": "identifier", "rule": "token"}
            if spec.get("rule") == "mask" or spec.get("class") == "attribute"
            else spec
        )
        for name, spec in citizen_policy["columns"].items()
    }
    policy = {**citizen_policy, "columns": columns}
    levels = apply(citizens, policy, keys).report.k_anonymity["levels"]
    assert levels["district"]["generalization"] == "keep"


def test_numeric_bins_double_until_k_is_met(keys: Keyring) -> None:
    frame = pd.DataFrame({"age": np.arange(200) % 97, "v": np.arange(200)})
    policy = {
        "k": 10,
        "max_suppression": 0,
        "columns": {
            "age": {"class": "quasi_identifier", "rule": "generalize", "width": 5},
            "v": {"class": "attribute"},
        },
    }
    result = apply(frame, policy, keys)
    assert smallest_class(result.frame, ["age"]) >= 10
    assert result.report.k_anonymity["levels"]["age"]["generalization"].startswith("width ")
    assert result.frame["age"].str.match(r"^\[\d+, \d+\)$").all()


def test_missing_quasi_identifier_values_form_their_own_class(keys: Keyring) -> None:
    frame = pd.DataFrame({"zone": ["a"] * 5 + [None] * 5 + ["b"], "v": range(11)})
    policy = {
        "k": 5,
        "max_suppression": 0.1,
        "columns": {"zone": {"class": "quasi_identifier"}, "v": {"class": "attribute"}},
    }
    out = apply(frame, policy, keys).frame
    assert out["zone"].isna().sum() == 5 and (out["zone"] == "a").sum() == 5
    assert "b" not in set(out["zone"])  # its class of one was suppressed


def test_l_diversity_holds_on_output(
    citizens: pd.DataFrame, citizen_policy: dict, keys: Keyring
) -> None:
    columns = {
        **citizen_policy["columns"],
        "diagnosis": {"class": "sensitive", "rule": "mask", "keep_first": 8},
    }
    policy = {**citizen_policy, "columns": columns, "l_diversity": {"column": "diagnosis", "l": 3}}
    result = apply(citizens, policy, keys)
    diversity = result.frame.groupby(QIS, dropna=False)["diagnosis"].nunique(dropna=False)
    assert diversity.min() >= 3
    assert result.report.k_anonymity["l"] == 3


def test_l_diversity_may_use_a_column_that_is_not_released(
    citizens: pd.DataFrame, citizen_policy: dict, keys: Keyring
) -> None:
    policy = {**citizen_policy, "l_diversity": {"column": "diagnosis", "l": 3}}
    result = apply(citizens, policy, keys)
    assert "diagnosis" not in result.frame.columns
    joined = result.frame[QIS].join(citizens["diagnosis"])
    assert joined.groupby(QIS, dropna=False)["diagnosis"].nunique().min() >= 3


def test_k_larger_than_the_table_is_refused(people: pd.DataFrame, issue_policy: dict) -> None:
    with pytest.raises(KAnonymityError, match=r"k=20 is larger than the table \(12 rows\)"):
        apply(people, {**issue_policy, "k": 20}, b"x" * 32)


def test_unreachable_l_diversity_is_refused(people: pd.DataFrame, issue_policy: dict) -> None:
    policy = {**issue_policy, "k": 2, "l_diversity": {"column": "diagnosis", "l": 4}}
    with pytest.raises(
        KAnonymityError,
        match="cannot reach k=2 and l=4 on the l-diversity column .diagnosis. over the released columns .*resident_id.*smallest class holds",
    ):
        apply(people, policy, b"x" * 32)


def test_verify_catches_a_class_smaller_than_k() -> None:
    counts = pa.table({"q": ["a", "b"], COUNT: [5, 2]})
    with pytest.raises(KAnonymityError, match="a class over q has 2 rows, fewer than k=5"):
        verify(counts, ["q"], k=5)
    verify(counts, ["q"], k=2)


def test_verify_catches_a_class_with_too_few_sensitive_values() -> None:
    counts = pa.table({"q": ["a", "a", "b"], "s": ["x", "y", "x"], COUNT: [5, 5, 9]})
    with pytest.raises(KAnonymityError, match="1 distinct 's' values, fewer than l=2"):
        verify(counts, ["q"], k=5, l_column="s", l=2)


# Seven columns overflow the packed keys. The direct count array holds all the counts,
# is left for packed keys after the first batch, or is never used.
@pytest.mark.parametrize("dense", ["always", "midway", "never"])
@pytest.mark.parametrize("columns", [3, 7])
def test_combination_counts_are_those_of_a_groupby_across_batches(
    columns: int, dense: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = {"always": 1 << 21, "midway": 6_000 * 3 ** (columns - 3), "never": 0}[dense]
    monkeypatch.setattr(ComboCounts, "DENSE", limit)
    rng = np.random.default_rng(columns)
    frame = pd.DataFrame(
        {f"q{i}": rng.integers(0, 700 if i == 0 else 3, 5_000) for i in range(columns)}
    )
    frame["q1"] = frame["q1"].astype(str).where(frame["q1"] > 0)  # text with nulls
    names = list(frame.columns)
    sizes = ComboCounts(names)
    for start in range(0, len(frame), 1_300):
        sizes.add(pa.Table.from_pandas(frame.iloc[start : start + 1_300], preserve_index=False))
    expected = frame.groupby(names, dropna=False).size()
    assert sorted(sizes.sizes()) == sorted(expected)
    rows = sizes.table().to_pylist()
    counted = {tuple(row[n] for n in names): row[COUNT] for row in rows}
    grouped = expected.reset_index().astype(object).where(expected.reset_index().notna(), None)
    assert counted == {tuple(row[:-1]): row[-1] for row in grouped.itertuples(index=False)}


def test_class_lookup_by_table_and_by_search_agree(
    citizens: pd.DataFrame, citizen_policy: dict, keys: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = {**citizen_policy, "columns": {**citizen_policy["columns"]}}
    policy["columns"]["birth_date"] = {**policy["columns"]["birth_date"], "to": "day"}
    by_table = apply(citizens, policy, keys)
    monkeypatch.setattr(ClassEncoder, "DENSE", 0)
    by_search = apply(citizens, policy, keys)
    assert by_table.report.rows_suppressed > 0
    pd.testing.assert_frame_equal(by_table.frame, by_search.frame)


def test_combination_counts_repack_when_a_column_outgrows_its_bits() -> None:
    rng = np.random.default_rng(4)
    counts = ComboCounts(["a", "b", "c"])
    frames = []
    for size, spread in ((5000, 4), (200_000, 5_000_000)):  # few values, then many more
        frame = pd.DataFrame(
            {
                "a": rng.integers(0, spread, size),
                "b": rng.integers(0, 3000, size),
                "c": rng.integers(0, 7, size),
            }
        )
        counts.add(pa.Table.from_pandas(frame, preserve_index=False))
        frames.append(frame)
    got = counts.table().to_pandas().set_index(["a", "b", "c"])[COUNT].sort_index()
    want = pd.concat(frames).groupby(["a", "b", "c"]).size().sort_index()
    assert got.to_numpy().tolist() == want.to_numpy().tolist()
    assert got.index.equals(want.index)


def test_counts_over_more_columns_than_the_quasi_identifiers_plan_as_merged_ones() -> None:
    """A counts table may split a combination by another column: the search must not take
    its rows for distinct classes."""
    from desensitize.engine import Desensitizer
    from desensitize.kanon import choose_levels

    policy = Policy.from_dict(
        {
            "k": 3,
            "max_suppression": 0.0,
            "columns": {
                "zone": {"class": "quasi_identifier", "rule": "keep"},
                "gender": {"class": "quasi_identifier", "rule": "keep"},
            },
        }
    )
    rng = np.random.default_rng(7)
    split = pa.table(
        {
            "zone": rng.choice(["a", "b"], 60),
            "gender": rng.choice(["f", "m"], 60),
            "other": rng.choice(["x", "y", "z"], 60),
            COUNT: np.ones(60, dtype=np.int64),
        }
    )
    merged = split.group_by(["zone", "gender"]).aggregate([(COUNT, "sum")])
    merged = merged.rename_columns(["zone", "gender", COUNT])
    with Desensitizer(policy, Keyring(b"k" * 32)) as engine:
        plans = [
            choose_levels(table, engine.qis, k=3, max_suppression=0.0, search="greedy")
            for table in (split, merged)
        ]
    assert plans[0].levels == plans[1].levels == {"zone": 0, "gender": 0}
    assert plans[0].rows_suppressed == plans[1].rows_suppressed == 0


def test_unique_counts_in_two_ranges_equal_one_sort():
    """Keys sorted in two ranges side by side give numpy's own unique values and counts,
    for spread keys, heavy repeats, and a sampled median that is the smallest key."""
    from concurrent.futures import ThreadPoolExecutor

    from desensitize.combos import SPLIT_UNIQUE, unique_counts

    rng = np.random.default_rng(11)
    n = SPLIT_UNIQUE + 1000
    cases = [
        rng.integers(0, 2**40, n),
        rng.integers(0, 50, n),
        np.concatenate([np.zeros(n - 10, dtype=np.int64), rng.integers(1, 9, 10)]),
        np.full(n, 7, dtype=np.int64),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for key in cases:
            values, counts = unique_counts(key, pool)
            expected_values, expected_counts = np.unique(key, return_counts=True)
            assert np.array_equal(values, expected_values)
            assert np.array_equal(counts, expected_counts)
