"""No real row before a lease: the catalog shows a synthetic sample, and only a dataset's
own provider previews its real (desensitized) rows, each view logged (invariant 3)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.exchange.conftest import World
from tests.exchange.flows import POLICY, publish

IDENTIFIERS = [c for c, spec in POLICY["columns"].items() if spec["class"] == "identifier"]
SENSITIVE = [c for c, spec in POLICY["columns"].items() if spec["class"] == "sensitive"]
# Fakes come from one shared pool, so two fakes may be equal by chance; tokens may not.
TOKENS = [c for c, spec in POLICY["columns"].items() if spec.get("rule") == "token"]
UNKEYED = [  # same rule output for the same input, whatever the key
    c for c, spec in POLICY["columns"].items() if spec.get("rule") in ("mask", "generalize", "keep")
]
# Equal values of these say nothing about a person.
SMALL_DOMAINS = ("gender", "district", "birth_date", "household_size")
MASKED_ID = r"[0-9]{6}\*{8}[0-9]{3}[0-9X]"


@pytest.fixture
def frame(citizens_small: pd.DataFrame) -> pd.DataFrame:
    return citizens_small.head(400)


def catalog_and_preview(world: World, frame: pd.DataFrame) -> tuple[str, dict, dict]:
    """Publish the table; the buyer's catalog entry and the provider's real-row preview."""
    dataset_id, offer_id = publish(world, frame)
    entry = world.call("buyer", "GET", f"/v1/catalog/{offer_id}")
    assert entry.status_code == 200, entry.text
    preview = world.call("provider", "GET", f"/v1/datasets/{dataset_id}/preview?rows=200")
    assert preview.status_code == 200, preview.text
    return entry.text, entry.json(), preview.json()


def test_the_catalog_entry_holds_a_labelled_synthetic_sample(world, frame):
    _, entry, _ = catalog_and_preview(world, frame)
    assert "preview" not in entry
    sample = entry["sample"]
    assert sample["synthetic"] is True
    assert "no row is a real record" in sample["note"]
    assert sample["columns"] == [column["name"] for column in entry["schema"]]
    assert len(sample["rows"]) == world.exchange.settings.preview_rows
    rows = pd.DataFrame(sample["rows"])
    assert rows["resident_id"].str.fullmatch(MASKED_ID).all()
    assert rows["mobile"].str.fullmatch(r"1[3-9][0-9]\*{4}[0-9]{4}").all()
    assert rows["name"].str.fullmatch(r"tk_[0-9a-f]{16}").all()
    assert rows["monthly_income"].between(0, 100_000).all()


def assert_nothing_real(sample: pd.DataFrame, real: pd.DataFrame) -> None:
    """No desensitized value of a real person (masked ID, token) and no real row."""
    for column in [*UNKEYED, *TOKENS]:
        if column in SMALL_DOMAINS or column not in sample:
            continue
        assert not set(sample[column]) & set(real[column]), column
    # No sample row is a real row on the columns that do not depend on a key.
    shared = [c for c in UNKEYED if c in sample]
    real_rows = set(map(tuple, real[shared].astype(str).to_numpy()))
    assert not real_rows & set(map(tuple, sample[shared].astype(str).to_numpy()))


def test_no_value_or_row_of_the_sample_is_real(world, frame):
    text, entry, preview = catalog_and_preview(world, frame)
    sample = pd.DataFrame(entry["sample"]["rows"])
    real = pd.DataFrame(preview["rows"])
    for column in IDENTIFIERS:  # no raw name, ID, mobile, ... anywhere in the response
        raw = set(frame[column].astype(str))
        assert not any(value in text for value in raw), column
        if column in sample:
            assert not raw & set(sample[column].astype(str)), column
    for column in SENSITIVE:  # noisy numbers are no raw amounts either
        assert not set(frame[column].astype(float)) & set(sample[column].astype(float)), column
    assert_nothing_real(sample, real)
    # The check catches what the catalog used to embed: the first rows of this preview.
    with pytest.raises(AssertionError):
        assert_nothing_real(real.head(len(sample)), real)


def events(world: World, kind: str) -> list[dict]:
    response = world.call("auditor", "GET", f"/v1/audit/events?kind={kind}")
    assert response.status_code == 200, response.text
    return response.json()


def test_only_the_datasets_provider_previews_real_rows_and_each_view_is_logged(world, frame):
    dataset_id, offer_id = publish(world, frame)
    assert world.call("buyer", "GET", f"/v1/catalog/{offer_id}").status_code == 200
    url = f"/v1/datasets/{dataset_id}/preview"
    for who in ("buyer", "buyer2", "auditor", "operator", "provider2"):
        response = world.call(who, "GET", url)
        assert response.status_code == 403, (who, response.text)
        assert response.json()["error"]["code"] == "forbidden"
    assert events(world, "preview_view") == []  # refusals and catalog views show no row

    assert world.call("provider", "GET", f"{url}?rows=7").status_code == 200
    assert world.call("provider", "GET", url).status_code == 200
    dataset = world.call("provider", "GET", f"/v1/datasets/{dataset_id}").json()
    logged = events(world, "preview_view")
    assert [(e["actor"], e["dataset"], e["rows"]) for e in logged] == [
        (world.ids["provider"], dataset_id, 7),
        (world.ids["provider"], dataset_id, 20),
    ]
    assert {e["policy_hash"] for e in logged} == {dataset["policy_hash"]}


def test_the_catalog_shows_what_the_release_gate_counted_and_did(world, frame):
    _, offer_id = publish(world, frame)
    release = world.call("buyer", "GET", f"/v1/catalog/{offer_id}").json()["release"]
    counted = set(release["gate"]["counted_columns"])
    # Masks keep raw characters: counted; keyed pseudonyms and private noise: not.
    assert {"resident_id", "mobile", "birth_date", "district"} <= counted
    assert not counted & {"name", "citizen_id", "card_id", "address", "monthly_income"}
    assert set(release["generalization"]) == counted
    assert release["rows"] + release["rows_suppressed"] == len(frame)


def test_the_sample_is_made_once_per_policy_version(world, frame):
    dataset_id, offer_id = publish(world, frame)
    first = world.call("buyer", "GET", f"/v1/catalog/{offer_id}").json()["sample"]
    again = world.call("buyer2", "GET", f"/v1/catalog/{offer_id}").json()["sample"]
    assert again == first  # no new throwaway key per view: nothing of a lease's key is in it
    policy = {**POLICY, "columns": {**POLICY["columns"], "mobile": {"class": "drop"}}}
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)
    assert response.status_code == 200, response.text
    changed = world.call("buyer", "GET", f"/v1/catalog/{offer_id}").json()["sample"]
    assert "mobile" in first["columns"] and "mobile" not in changed["columns"]
