"""Attacks on leased extracts, played over HTTP: each must fail (DESIGN.md, invariant 3).

Every check is plain pandas on the downloaded extract (or, for persons that an extract
cannot show, on the library's output indexed by input row), never the engine's own code.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest

from desensitize import Keyring, apply
from examples.generate_city_data import generate, generate_citizens
from tests.exchange.conftest import upload
from tests.exchange.flows import offer_body, paid_lease, publish

# Every lease test runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.usefixtures("backend")

ROWS = 3_000
STAR = "*"
DIAGNOSES = ["高血压", "糖尿病", "哮喘", "健康", "骨折"]

TOKEN = {"class": "identifier", "rule": "token"}
KEEP = {"class": "quasi_identifier", "rule": "keep"}
INCOME = {"class": "sensitive", "rule": "noise", "epsilon": 1.0, "bounds": [0, 100000]}
# The l-diversity column, released as it is: the criterion is what protects it.
SENSITIVE_DIAGNOSIS = {"class": "sensitive", "rule": "keep"}
DIAGNOSIS = SENSITIVE_DIAGNOSIS


def generalized(unit: str) -> dict[str, Any]:
    return {"class": "quasi_identifier", "rule": "generalize", "to": unit}


LINKAGE_POLICY: dict[str, Any] = {
    "k": 5,
    "l_diversity": {"column": "diagnosis", "l": 2},
    "columns": {
        "resident_id": {"class": "identifier", "rule": "mask", "preset": "cn_resident_id"},
        "mobile": {"class": "identifier", "rule": "mask", "preset": "cn_mobile"},
        "name": TOKEN,
        "district": KEEP,
        "gender": KEEP,
        "birth_date": generalized("month"),
        "monthly_income": INCOME,
        "diagnosis": DIAGNOSIS,
    },
}
# Without masks the district survives, so a per-lease anonymization would differ by lease.
PLAIN_POLICY: dict[str, Any] = {
    "k": 5,
    "l_diversity": {"column": "diagnosis", "l": 2},
    "columns": {
        "name": TOKEN,
        "district": KEEP,
        "gender": KEEP,
        "birth_date": generalized("month"),
        "monthly_income": INCOME,
        "diagnosis": DIAGNOSIS,
    },
}


def citizens(rows: int = ROWS, seed: int = 11) -> pd.DataFrame:
    frame = generate_citizens(rows, seed=seed)
    frame["diagnosis"] = np.random.default_rng(seed).choice(DIAGNOSES, size=rows)
    return frame


def download(world, lease_id: str, *, who: str = "buyer") -> pd.DataFrame:
    response = world.call(who, "GET", f"/v1/leases/{lease_id}/extract?format=parquet")
    assert response.status_code == 200, response.text
    return pd.read_parquet(io.BytesIO(response.content))


def published(world, frame: pd.DataFrame, policy: dict[str, Any]) -> tuple[str, str]:
    return publish(world, frame, policy=policy, k=policy["k"])


def leased(world, offer_id: str, *, who: str = "buyer", **extra: Any) -> pd.DataFrame:
    return download(
        world, paid_lease(world, offer_id, who=who, epsilon=0.0, **extra)["id"], who=who
    )


# --- the adversary's consistency tests, one per kind of released value ---------------------


def _chars(values: pd.Series | np.ndarray, width: int) -> np.ndarray:
    # A value hidden whole ('*', a mask's top level) is consistent with every value.
    text = [STAR * width if str(v) == STAR else str(v) for v in values]
    assert all(len(v) == width for v in text), "masked values keep their width"
    return np.array([list(v) for v in text])


def masked_consistent(released: np.ndarray, display: pd.Series) -> np.ndarray:
    """(distinct released values x persons): no position where both show a different digit."""
    width = len(display.iloc[0])
    ours, theirs = _chars(released, width)[:, None, :], _chars(display, width)[None, :, :]
    return ((ours == STAR) | (theirs == STAR) | (ours == theirs)).all(axis=2)


def date_consistent(released: np.ndarray, stamps: pd.Series) -> np.ndarray:
    """A generalized date ('YYYY-MM', 'YYYY', 'YYY0s' or '*') against full timestamps."""
    text = stamps.dt.strftime("%Y-%m-%d %H")
    rows = []
    for label in released:
        if label == STAR:
            rows.append(np.ones(len(text), dtype=bool))
        elif label.endswith("0s"):
            rows.append((text.str[:3] == label[:3]).to_numpy())
        else:
            rows.append(text.str.startswith(label).to_numpy())
    return np.array(rows)


def equal_consistent(released: np.ndarray, values: pd.Series) -> np.ndarray:
    known = values.to_numpy()[None, :]
    return (released[:, None] == STAR) | (released[:, None] == known)


def display_id(resident_id: pd.Series) -> pd.Series:
    return resident_id.str[:6] + STAR * 8 + resident_id.str[-4:]


def display_mobile(mobile: pd.Series) -> pd.Series:
    return mobile.str[:3] + STAR * 4 + mobile.str[-4:]


def candidates(extract: pd.DataFrame, outside: pd.DataFrame) -> pd.DataFrame:
    """Each distinct released tuple, its rows and how many outside persons fit it."""
    tests = {
        "resident_id": masked_consistent,
        "mobile": masked_consistent,
        "birth_date": date_consistent,
        "district": equal_consistent,
        "gender": equal_consistent,
    }
    fits = {}
    for column, test in tests.items():
        distinct = extract[column].astype(str).unique()
        fits[column] = dict(zip(distinct, test(distinct, outside[column]), strict=True))
    classes = extract.astype({c: str for c in tests}).groupby(list(tests)).size()
    found = []
    for values, rows in classes.items():
        fit = np.logical_and.reduce([fits[c][v] for c, v in zip(tests, values, strict=True)])
        found.append({"rows": int(rows), "candidates": int(fit.sum())})
    return pd.DataFrame(found)


# --- the attacks -------------------------------------------------------------------------


def test_a_linkage_join_with_outside_identities_reidentifies_no_row(world):
    frame = citizens()
    _, offer_id = published(world, frame, LINKAGE_POLICY)
    extract = leased(world, offer_id)
    assert len(extract) >= 0.95 * len(frame)  # within the policy's suppression allowance

    outside = pd.DataFrame(
        {
            "name": frame["name"],
            "resident_id": display_id(frame["resident_id"]),
            "mobile": display_mobile(frame["mobile"]),
            "district": frame["district"],
            "gender": frame["gender"],
            "birth_date": pd.to_datetime(frame["birth_date"]),
        }
    )
    found = candidates(extract, outside)
    # The attack is sound: every released person is among its own row's candidates.
    assert (found["candidates"] >= found["rows"]).all()
    unique = found.loc[found["candidates"] == 1, "rows"].sum()
    assert unique / len(extract) <= 0.001

    released = ["resident_id", "mobile", "district", "gender", "birth_date"]
    classes = extract.groupby(released, dropna=False)
    assert classes.size().min() >= 5
    assert classes["diagnosis"].nunique().min() >= 2


def test_two_leases_cannot_be_differenced(world):
    _, offer_id = published(world, citizens(), PLAIN_POLICY)
    full = leased(world, offer_id)
    columns = [c for c in PLAIN_POLICY["columns"] if c != "district"]
    smaller = leased(world, offer_id, columns=columns)
    assert "district" not in smaller.columns
    assert len(smaller) == len(full)

    common = ["gender", "birth_date", "diagnosis"]  # neither pseudonym nor dithered noise

    def tuples(extract: pd.DataFrame) -> pd.Series:
        return extract[common].astype(str).value_counts().sort_index()

    pd.testing.assert_series_equal(tuples(smaller), tuples(full))


def test_two_buyers_get_the_same_rows_of_one_release(world):
    _, offer_id = published(world, citizens(), PLAIN_POLICY)
    first = leased(world, offer_id, columns=["gender", "birth_date", "diagnosis"])
    second = leased(world, offer_id, who="buyer2", columns=["birth_date", "diagnosis"])
    common = ["birth_date", "diagnosis"]
    assert (
        first[common].value_counts().sort_index().equals(second[common].value_counts().sort_index())
    )


def test_the_extract_order_owes_nothing_to_the_input_order(world):
    frame = citizens().sort_values("birth_date", kind="stable").reset_index(drop=True)
    _, offer_id = published(world, frame, PLAIN_POLICY)
    first = leased(world, offer_id)
    second = leased(world, offer_id)

    labels = first["birth_date"].astype(str)
    assert labels.nunique() > 1, "the date must survive the gate for order to be measurable"
    # The input is sorted by date, so a label's rank among the labels is its input order.
    rank = labels.map({label: i for i, label in enumerate(sorted(labels.unique()))})
    rho = pd.Series(np.arange(len(rank))).corr(rank.reset_index(drop=True), method="spearman")
    assert abs(rho) < 0.1, rho

    shown = ["district", "gender", "birth_date", "diagnosis"]
    agree = (first[shown].to_numpy() == second[shown].to_numpy()).all(axis=1).mean()
    assert agree < 0.2, agree


STUDENT_QI = ["grade", "school", "home_stop", "stop", "direction"]


def boardings_policy(*, linked: bool) -> dict[str, Any]:
    person = TOKEN if linked else {"class": "drop"}
    return {
        "k": 5,
        "privacy_unit": {"column": "student_id"},
        "columns": {
            "student_id": person,
            "student_name": TOKEN if linked else {"class": "drop"},
            **{c: KEEP for c in STUDENT_QI},
            "boarding_time": generalized("hour"),
        },
    }


def test_linked_rows_of_a_person_are_shared_by_k_persons(world):
    frame = generate("student_boardings", ROWS, seed=5)
    policy = boardings_policy(linked=True)
    _, offer_id = published(world, frame, policy)
    extract = leased(world, offer_id)
    released = [*STUDENT_QI, "boarding_time"]

    histories = extract.groupby("student_id")[released].apply(
        lambda rows: frozenset(rows.astype(str).itertuples(index=False, name=None))
    )
    assert len(histories) >= 5
    assert histories.value_counts().min() >= 5


def test_unlinked_rows_put_k_persons_in_every_class():
    frame = generate("student_boardings", ROWS, seed=5)
    out = apply(frame, boardings_policy(linked=False), Keyring(b"\x07" * 32)).frame
    assert "student_id" not in out.columns and len(out) >= 0.95 * len(frame)
    out = out.assign(person=frame.loc[out.index, "student_id"])
    released = [*STUDENT_QI, "boarding_time"]
    assert out.groupby(released, dropna=False)["person"].nunique().min() >= 5


def refused(world, frame: pd.DataFrame, policy: dict[str, Any]) -> str:
    response = upload(world, frame)
    assert response.status_code == 201, response.text
    dataset_id = response.json()["id"]
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)
    assert response.status_code == 422, response.text
    assert world.call("provider", "GET", f"/v1/datasets/{dataset_id}").json()["policy"] is None
    assert not any("release-" in p.name for p in world.exchange.store.root.iterdir())
    return response.json()["error"]["message"]


def test_a_k_above_the_number_of_persons_is_refused_and_nothing_is_kept(world):
    frame = generate("student_boardings", 1_000, seed=5)
    persons = frame["student_id"].nunique()
    policy = {**boardings_policy(linked=True), "k": persons + 1}
    message = refused(world, frame, policy)
    assert f"k={persons + 1}" in message and str(persons) in message


def test_an_unreachable_l_is_refused_and_nothing_is_kept(world):
    frame = citizens(1_000).assign(diagnosis="健康")
    message = refused(world, frame, PLAIN_POLICY)
    assert "l=2" in message


def test_an_unreachable_l_is_refused_naming_the_sensitive_column(world):
    frame = citizens(1_000).assign(diagnosis="健康")
    message = refused(world, frame, PLAIN_POLICY)
    assert "diagnosis" in message and "__l_value__" not in message


JOIN_A: dict[str, Any] = {**PLAIN_POLICY, "columns": {**PLAIN_POLICY["columns"]}}
JOIN_A["columns"]["birth_date"] = generalized("decade")
# B drops the district but dates by month (the gate settles on years): joined with A row
# by row, (district, gender, year) classes fall under k.
JOIN_B: dict[str, Any] = {
    **PLAIN_POLICY,
    "columns": {c: s for c, s in PLAIN_POLICY["columns"].items() if c != "district"},
}


def test_a_sensitive_column_kept_for_l_diversity_can_be_set(world):
    policy = {**LINKAGE_POLICY, "columns": {**LINKAGE_POLICY["columns"]}}
    policy["columns"]["diagnosis"] = SENSITIVE_DIAGNOSIS
    dataset_id = upload(world, citizens(500)).json()["id"]
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)
    assert response.status_code == 200, response.text


def test_a_newer_release_that_joins_below_k_is_refused_to_a_holder_only(world):
    dataset_id, offer_id = published(world, citizens(), JOIN_A)
    held = leased(world, offer_id)
    assert held["birth_date"].astype(str).str.endswith("0s").all()

    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=JOIN_B)
    assert response.status_code == 200, response.text
    body = {"offer_id": offer_id, "purpose": "traffic-planning", "days": 30, "epsilon": 0.0}
    refusal = world.call("buyer", "POST", "/v1/leases", json=body)
    assert refusal.status_code == 409, refusal.text
    assert refusal.json()["error"]["code"] == "release_not_joinable"
    assert "k=5" in refusal.json()["error"]["message"]

    newer = leased(world, offer_id, who="buyer2")
    assert "district" not in newer.columns
    assert not newer["birth_date"].astype(str).str.endswith("0s").all()
    # What the refused buyer would have joined: check the gate's reason independently.
    assert newer.groupby(["gender", "birth_date"]).size().min() >= 5


def test_an_offer_cannot_promise_a_k_above_the_policys(world):
    response = upload(world, citizens(500))
    dataset_id = response.json()["id"]
    policy = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=PLAIN_POLICY)
    assert policy.status_code == 200, policy.text
    offer = world.call("provider", "POST", "/v1/offers", json=offer_body(dataset_id, k=6))
    assert offer.status_code == 422
    assert "k=6" in offer.json()["error"]["message"]


def test_lowering_the_policys_k_does_not_break_an_offers_promise(world):
    dataset_id, offer_id = published(world, citizens(), PLAIN_POLICY)
    lowered = {**PLAIN_POLICY, "k": 2}
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=lowered)
    if response.status_code == 409:  # refusing the lower k keeps the promise
        assert response.json()["error"]["code"] == "offer_promises_k"
        return
    assert response.status_code == 200, response.text
    body = {"offer_id": offer_id, "purpose": "traffic-planning", "days": 30, "epsilon": 0.0}
    request = world.call("buyer", "POST", "/v1/leases", json=body)
    if request.status_code == 409:
        return  # refusing the lease keeps the promise too
    assert request.status_code == 201, request.text
    assert world.call("buyer", "POST", f"/v1/leases/{request.json()['id']}/pay").status_code == 200
    extract = download(world, request.json()["id"])
    released = ["district", "gender", "birth_date"]
    assert extract.groupby(released, dropna=False).size().min() >= PLAIN_POLICY["k"]
