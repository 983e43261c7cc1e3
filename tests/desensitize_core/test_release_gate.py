"""The release gate counts every released column, and persons rather than rows.

Each check here is computed with plain pandas on the output, not with the engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from desensitize import Keyring, Policy, apply
from examples.generate_city_data import generate_citizens

KEYS = Keyring(b"release-gate-test-key-0123456789")
# The k=5 / l=2 policy: display masks on the ID and the mobile.
LEAKY = {
    "k": 5,
    "l_diversity": {"column": "diagnosis", "l": 2},
    "columns": {
        "name": {"class": "identifier", "rule": "token"},
        "resident_id": {"class": "identifier", "rule": "mask", "preset": "cn_resident_id"},
        "mobile": {"class": "identifier", "rule": "mask", "preset": "cn_mobile"},
        "birth_date": {"class": "quasi_identifier", "rule": "generalize", "to": "month"},
        "district": {"class": "quasi_identifier", "rule": "keep"},
        "gender": {"class": "quasi_identifier", "rule": "keep"},
        "monthly_income": {
            "class": "attribute",
            "rule": "noise",
            "epsilon": 1.0,
            "bounds": [0, 100000],
        },
        "diagnosis": {"class": "sensitive", "rule": "keep"},
    },
}


def released_non_pseudonyms(policy: dict) -> list[str]:
    """Every released column but tokens, fakes, private noise and the l-diversity column,
    read off the policy dict as an outside auditor would."""
    target = (policy.get("l_diversity") or {}).get("column")
    out = []
    for name, spec in policy["columns"].items():
        rule = spec.get("rule", "keep")
        if spec["class"] == "drop" or name == target or rule in ("token", "fake"):
            continue
        if rule == "noise" and spec["epsilon"] <= 1.0:
            continue
        out.append(name)
    return out


@pytest.fixture(scope="module")
def citizens() -> pd.DataFrame:
    frame = generate_citizens(6000, seed=11)
    rng = np.random.default_rng(11)
    diagnoses = ["高血压", "糖尿病", "哮喘", "抑郁症", "无"]
    return frame.assign(diagnosis=rng.choice(diagnoses, len(frame), p=[0.2, 0.15, 0.1, 0.05, 0.5]))


def test_display_masks_are_jointly_unique_in_the_raw_table(citizens: pd.DataFrame) -> None:
    # The attack's premise: 6+4 and 3+4 display formats single out nearly everyone.
    shown = pd.DataFrame(
        {
            "id": citizens["resident_id"].str[:6] + citizens["resident_id"].str[-4:],
            "mobile": citizens["mobile"].astype(str).str[:3]
            + citizens["mobile"].astype(str).str[-4:],
        }
    )
    assert (shown.groupby(["id", "mobile"]).transform("size") == 1).mean() > 0.95


def test_a_linkage_join_on_every_released_column_singles_out_almost_no_one(
    citizens: pd.DataFrame,
) -> None:
    out = apply(citizens, LEAKY, KEYS).frame
    columns = released_non_pseudonyms(LEAKY)
    assert {"resident_id", "mobile"} <= set(columns)
    sizes = out.groupby(columns, dropna=False)[columns[0]].transform("size")
    assert sizes.min() >= 5
    # The attacker holds each person's display-format ID and mobile and true district,
    # gender and birth month: a row is re-identified when the released values it can be
    # joined on match exactly one person of the population.
    people = citizens.loc[out.index]
    visible = {c: _visible(out[c]) for c in ("resident_id", "mobile")}
    attacker = pd.DataFrame(
        {
            "resident_id": _project(people["resident_id"], visible["resident_id"]),
            "mobile": _project(people["mobile"].astype(str), visible["mobile"]),
        },
        index=people.index,
    )
    joined = out[["resident_id", "mobile"]].astype(str)
    assert (joined == attacker).all().all()  # the attacker's projection is what was released
    reidentified = (sizes == 1).mean()
    assert reidentified <= 0.001


def _visible(column: pd.Series) -> np.ndarray:
    """Positions the release shows (not '*'), from its first value."""
    sample = str(column.dropna().iloc[0])
    return np.array([ch != "*" for ch in sample])


def _project(values: pd.Series, visible: np.ndarray) -> pd.Series:
    if not visible.any():
        return pd.Series("*", index=values.index)
    chars = values.str.split("", expand=True).iloc[:, 1 : len(visible) + 1].to_numpy()
    chars[:, ~visible] = "*"
    return pd.Series(["".join(row) for row in chars], index=values.index)


def test_the_district_column_cannot_be_restored_from_the_id_region_code(
    citizens: pd.DataFrame,
) -> None:
    policy = {**LEAKY, "columns": {**LEAKY["columns"], "district": {"class": "drop"}}}
    out = apply(citizens, policy, KEYS).frame
    # Whatever the ID keeps is counted with the other columns: k holds on it.
    columns = released_non_pseudonyms(policy)
    assert out.groupby(columns, dropna=False).size().min() >= 5


def test_l_diversity_holds_per_class_of_every_released_column(citizens: pd.DataFrame) -> None:
    out = apply(citizens, LEAKY, KEYS).frame
    columns = released_non_pseudonyms(LEAKY)
    assert out.groupby(columns, dropna=False)["diagnosis"].nunique().min() >= 2


def boardings(students: int = 600, seed: int = 3) -> pd.DataFrame:
    """Many rows per child: a class of five rows may be one child."""
    rng = np.random.default_rng(seed)
    child = np.repeat(np.arange(students), rng.integers(1, 50, students))
    home = rng.integers(0, 25, students)
    grade = rng.integers(1, 10, students)
    stop = np.where(rng.random(len(child)) < 0.85, home[child], rng.integers(0, 25, len(child)))
    return pd.DataFrame(
        {
            "student_id": [f"S{c:05d}" for c in child],
            "grade": grade[child],
            "stop": [f"stop {s}" for s in stop],
            "hour": rng.choice([7, 8, 16, 17], len(child)),
        }
    )


def _persons_policy(linked: bool) -> dict:
    columns = {
        "grade": {"class": "quasi_identifier", "rule": "keep"},
        "stop": {"class": "quasi_identifier", "rule": "keep"},
        "hour": {"class": "quasi_identifier", "rule": "keep"},
    }
    if linked:
        columns["student_id"] = {"class": "identifier", "rule": "token"}
    return {"k": 5, "privacy_unit": {"column": "student_id"}, "columns": columns}


def test_without_a_privacy_unit_k_counts_rows_and_one_child_can_fill_a_class() -> None:
    frame = boardings()
    policy = {**_persons_policy(False)}
    policy.pop("privacy_unit")
    out = apply(frame, policy, KEYS).frame
    persons = frame.loc[out.index, "student_id"]
    per_class = persons.groupby([out[c] for c in ("grade", "stop", "hour")]).nunique()
    assert per_class.min() < 5  # what the privacy unit is for


def test_with_a_privacy_unit_every_class_holds_k_children() -> None:
    frame = boardings()
    out = apply(frame, _persons_policy(False), KEYS).frame
    persons = frame.loc[out.index, "student_id"]
    per_class = persons.groupby([out[c] for c in ("grade", "stop", "hour")]).nunique()
    assert per_class.min() >= 5


def test_with_a_linking_token_each_childs_whole_trace_is_shared_by_k_children() -> None:
    frame = boardings()
    result = apply(frame, _persons_policy(True), KEYS)
    out = result.frame
    assert result.report.gate["linked_rows"] is True
    qis = ["grade", "stop", "hour"]
    # The buyer links rows by the token; each child is the set of released tuples.
    traces = out.groupby("student_id")[qis].apply(
        lambda rows: frozenset(map(tuple, rows.astype(str).to_numpy()))
    )
    assert traces.value_counts().min() >= 5
    # A suppressed child is gone whole: no child keeps only some of its rows.
    kept = frame.loc[out.index].groupby("student_id").size()
    assert (kept == frame.groupby("student_id").size().loc[kept.index]).all()


def test_the_report_states_its_attacker_and_the_columns_it_counted(
    citizens: pd.DataFrame,
) -> None:
    gate = apply(citizens, LEAKY, KEYS).report.gate
    assert "outside table" in gate["attacker"]
    assert set(gate["counted_columns"]) == set(released_non_pseudonyms(LEAKY))
    assert gate["not_counted"]["name"].startswith("keyed per-lease pseudonym")
    assert set(gate["counted_columns"]) == set(Policy.from_dict(LEAKY).released_quasi_identifiers)


@pytest.mark.parametrize(
    ("preset", "value", "levels"),
    [
        (
            "cn_resident_id_region",
            "440305199001011234",
            ["440305************", "4403**************", "44****************", "*"],
        ),
        ("cn_mobile_carrier", "13812345678", ["138********", "1**********", "*"]),
        ("email_domain", "zhang@qq.com", ["****@qq.com", "*"]),
        (
            "cn_resident_id",
            "440305199001011234",
            [
                "440305********1234",
                "440305************",
                "4403**************",
                "44****************",
                "*",
            ],
        ),
    ],
)
def test_mask_presets_generalize_level_by_level(preset: str, value: str, levels: list) -> None:
    import pyarrow as pa

    from desensitize.rules.base import Context

    policy = Policy.from_dict(
        {"columns": {"x": {"class": "identifier", "rule": "mask", "preset": preset}}}
    )
    ladder = policy.column("x").rule.ladder()
    base = ladder.base(pa.array([value]), Context(KEYS))
    assert [ladder.at(base, i).to_pylist()[0] for i in range(ladder.top + 1)] == levels
