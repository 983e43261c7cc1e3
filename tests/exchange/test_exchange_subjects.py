"""Data subjects: a person verified by the operator sees where their rows went and withdraws
consent; the dataset's next release leaves their rows out (checked on the extract), leases
of the earlier release carry a notice, and the log records each withdrawal without the
person's identifier."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa

from contracts import verify_export
from desensitize import Policy
from desensitize.rules.base import Context
from exchange.db.models import Account, ConsentWithdrawal, Lease
from exchange.services import releases
from exchange.services.extracts import lease_values
from exchange.services.leases import lease_keys
from tests.exchange.conftest import World, database_cells
from tests.exchange.flows import POLICY, paid_lease, publish


def lease_token(world: World, dataset_id: str, lease_id: str, citizen_id: str) -> str:
    """The token a lease's extract shows for ``citizen_id``: the release's token of it,
    re-keyed with the lease's keys."""
    policy = Policy.from_dict(POLICY)
    rule = policy.column("citizen_id").rule
    assert rule is not None
    exchange = world.exchange
    released = rule.transform(
        pa.array([citizen_id]), Context(releases.release_keys(exchange, dataset_id))
    )
    with exchange.sessions() as session:
        lease = session.get(Lease, lease_id)
        keys = lease_keys(exchange, lease)
    return lease_values(policy, "citizen_id", released, np.zeros(1, np.int64), keys)[0].as_py()


def extract(world: World, lease_id: str, who: str = "buyer"):
    response = world.call(who, "GET", f"/v1/leases/{lease_id}/extract")
    assert response.status_code == 200, response.text
    return response, pd.read_csv(io.BytesIO(response.content), dtype=str)


def register(world: World, identifier: str, name: str = "李女士") -> str:
    body = {"name": name, "identifier": identifier, "evidence": "real-name check SZ-RN-1"}
    response = world.call("operator", "POST", "/v1/subjects", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "subject"
    return response.json()["api_key"]


def as_subject(world: World, key: str, method: str, url: str, **kwargs):
    headers = {"Authorization": f"Bearer {key}"}
    return world.client.request(method, url, headers=headers, **kwargs)


def test_a_withdrawal_leaves_the_person_out_of_the_next_release_and_notifies_lessees(
    world, citizens_small, backend
):
    frame = citizens_small.head(300)
    person = frame.iloc[17]
    dataset_id, offer_id = publish(world, frame)
    column = {"column": "resident_id"}
    url = f"/v1/datasets/{dataset_id}/subject-column"
    assert world.call("buyer", "PUT", url, json=column).status_code == 403
    set_column = world.call("provider", "PUT", url, json=column)
    assert set_column.status_code == 200, set_column.text
    # The person types their ID number as people do: in lower case, with blanks around it.
    key = register(world, f"  {person['resident_id'].lower()} ")
    duplicate = {"name": "x", "identifier": person["resident_id"], "evidence": "again"}
    assert world.call("operator", "POST", "/v1/subjects", json=duplicate).status_code == 409

    first = paid_lease(world, offer_id)
    _, before = extract(world, first["id"])
    token = lease_token(world, dataset_id, first["id"], person["citizen_id"])
    assert token in set(before["citizen_id"])  # the token is computed as the extract's

    seen = as_subject(world, key, "GET", "/v1/subjects/me").json()
    (mine,) = seen["persons"][0]["datasets"]
    assert mine["dataset_id"] == dataset_id and mine["your_rows"] == 1
    assert mine["releases"][0]["leases"][0]["organisation"] == "鹏城出行科技有限公司"
    assert mine["releases"][0]["leases"][0]["purpose"] == "traffic-planning"
    records = as_subject(world, key, "GET", f"/v1/subjects/me/records/{dataset_id}").json()
    assert records["total"] == 1
    assert records["rows"][0]["citizen_id"] == person["citizen_id"]

    withdrawn = as_subject(
        world, key, "POST", "/v1/subjects/me/withdrawals", json={"reason": "不再同意"}
    )
    assert withdrawn.status_code == 201, withdrawn.text
    (withdrawal,) = withdrawn.json()
    assert withdrawal["dataset_id"] == dataset_id and withdrawal["consent_version"] == 1

    # The lease of the earlier release says so, on the lease and on its extract.
    notices = world.call("buyer", "GET", f"/v1/leases/{first['id']}").json()["notices"]
    assert [n["kind"] for n in notices] == ["consent_withdrawn"]
    assert notices[0]["withdrawals"] == 1
    response, again = extract(world, first["id"])
    assert "consent_withdrawn withdrawals=1" in response.headers["x-datalease-notice"]
    assert token in set(again["citizen_id"])  # what was leased stays what its receipt proves

    # The next release leaves the person out: another buyer's lease, and this buyer's too.
    second = paid_lease(world, offer_id, who="buyer2")
    _, after = extract(world, second["id"], who="buyer2")
    assert lease_token(world, dataset_id, second["id"], person["citizen_id"]) not in set(
        after["citizen_id"]
    )
    assert len(after) < len(before)
    assert world.call("buyer2", "GET", f"/v1/leases/{second['id']}").json()["notices"] == []
    third = paid_lease(world, offer_id)
    _, also = extract(world, third["id"])
    assert lease_token(world, dataset_id, third["id"], person["citizen_id"]) not in set(
        also["citizen_id"]
    )

    # The log proves the withdrawal; neither the identifier nor its pseudonym is in it.
    logged = world.call("auditor", "GET", "/v1/audit/events?kind=consent_withdrawn").json()
    assert [e["withdrawal"] for e in logged] == [withdrawal["id"]]
    with world.exchange.sessions() as session:
        pseudonym = session.query(ConsentWithdrawal).one().subject_hash
        subject = session.query(Account).filter(Account.role == "subject").one()
        assert subject.subject_hash == pseudonym
    identifier = person["resident_id"]
    for table, column_name, value in database_cells(world):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        assert identifier not in text, (table, column_name)
        if table == "ledger_entries":
            assert pseudonym not in text
    export = world.call("auditor", "GET", "/v1/audit/export").text.splitlines()
    public_key = world.client.get("/v1/ledger/public-key").json()["public_key_pem"]
    assert verify_export(export, public_key).ok


def test_only_subjects_see_their_data_and_only_their_own(world, citizens_small):
    frame = citizens_small.head(300)
    dataset_id, _ = publish(world, frame)
    world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/subject-column",
               json={"column": "resident_id"})  # fmt: skip
    key = register(world, frame.iloc[3]["resident_id"])
    other = register(world, "110101190001011237", name="不在数据中")
    for who in ("buyer", "provider", "auditor"):
        assert world.call(who, "GET", "/v1/subjects/me").status_code == 403
    assert as_subject(world, other, "GET", "/v1/subjects/me").json()["persons"][0]["datasets"] == []
    refused = as_subject(
        world, other, "POST", "/v1/subjects/me/withdrawals", json={"dataset_ids": [dataset_id]}
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_in_dataset"
    mine = as_subject(world, key, "GET", f"/v1/subjects/me/records/{dataset_id}").json()
    assert [r["resident_id"] for r in mine["rows"]] == [frame.iloc[3]["resident_id"]]
    bad = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/subject-column",
                     json={"column": "nope"})  # fmt: skip
    assert bad.status_code == 422
