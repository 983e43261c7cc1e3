"""A preview planned on a part of the dataset says so."""

from __future__ import annotations

from exchange.services import datasets
from tests.exchange.conftest import upload
from tests.exchange.flows import POLICY


def _previewed(world, frame) -> dict:
    response = upload(world, frame)
    assert response.status_code == 201, response.text
    dataset_id = response.json()["id"]
    put = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=POLICY)
    assert put.status_code == 200, put.text
    response = world.call("provider", "GET", f"/v1/datasets/{dataset_id}/preview?rows=5")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_preview_of_part_of_the_rows_says_its_levels_are_an_estimate(
    world, citizens_small, monkeypatch
):
    monkeypatch.setattr(datasets, "PREVIEW_SAMPLE_ROWS", 150)
    body = _previewed(world, citizens_small.head(400))
    assert body["sample_rows"] == 150
    assert any("estimate planned on the first 150 of 400 rows" in w for w in body["warnings"])


def test_a_preview_of_every_row_gives_no_such_warning(world, citizens_small):
    body = _previewed(world, citizens_small.head(300))
    assert body["sample_rows"] == 300
    assert not any("estimate" in w for w in body["warnings"])
