"""Licences export as ODRL 2.2 Agreements and read back unchanged."""

from __future__ import annotations

import copy
import json

import pytest

from contracts import Grade, OdrlError, canonical_json, from_odrl, to_odrl
from tests.contracts.contracts_samples import licence_for


@pytest.mark.parametrize("grade", [Grade.GENERAL, Grade.IMPORTANT])
@pytest.mark.parametrize("linking", [False, True])
def test_a_licence_round_trips_through_odrl(grade: Grade, linking: bool) -> None:
    licence = licence_for(grade)
    if linking:
        licence = type(licence)(**{**licence.__dict__, "cross_lease_linking": True})
    policy = json.loads(json.dumps(to_odrl(licence)))
    assert from_odrl(policy) == licence


def test_the_agreement_uses_odrl_terms_for_parties_period_purpose_count_and_duties() -> None:
    policy = to_odrl(licence_for(Grade.GENERAL))
    assert policy["@context"][0] == "http://www.w3.org/ns/odrl.jsonld"
    assert policy["@type"] == "Agreement"
    assert policy["assigner"] == "urn:datalease:party:traffic-bureau"
    assert policy["assignee"] == "urn:datalease:party:acme"
    assert policy["target"] == "urn:datalease:dataset:bus-trips"
    read = next(rule for rule in policy["permission"] if rule["action"] == "read")
    operands = {(c["leftOperand"], c["operator"]) for c in read["constraint"]}
    assert operands == {
        ("dateTime", "gteq"),
        ("dateTime", "lt"),
        ("purpose", "eq"),
        ("spatial", "eq"),
    }
    start = next(c for c in read["constraint"] if c["operator"] == "gteq")["rightOperand"]
    assert start == {"@value": "2025-03-01T08:00:00Z", "@type": "xsd:dateTime"}
    download = next(rule for rule in policy["permission"] if rule["action"] == "reproduce")
    assert {"leftOperand": "count", "operator": "lteq", "rightOperand": 3} in download["constraint"]
    prohibited = {rule["action"] for rule in policy["prohibition"]}
    assert prohibited == {
        "distribute",
        "dl:reidentify",
        "dl:linkToIdentify",
        "dl:linkPseudonymsAcrossLeases",
    }
    (duty,) = policy["obligation"]
    assert duty["action"] == "delete" and duty["constraint"][0]["operator"] == "lteq"
    canonical_json(policy)  # no floats anywhere: it can be hashed into the ledger


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.update({"@type": "Offer"}), "expected an ODRL Agreement"),
        (lambda p: p.update({"permission": []}), "has no permission"),
        (lambda p: p["permission"][0]["constraint"].pop(0), "permissions disagree"),
        (lambda p: p["prohibition"].append({"action": "dl:fly"}), "unknown prohibited actions"),
        (lambda p: p.update({"assignee": ""}), "needs 'assignee' as an IRI string"),
        (lambda p: p.update({"dl:grade": "secret"}), "value datalease does not know"),
        (
            lambda p: p.update(
                {"permission": [r for r in p["permission"] if r["action"] != "reproduce"]}
            ),
            "no 'reproduce' permission",
        ),
    ],
)
def test_documents_that_are_not_datalease_agreements_are_refused(damage, message: str) -> None:
    policy = copy.deepcopy(to_odrl(licence_for(Grade.GENERAL)))
    damage(policy)
    with pytest.raises(OdrlError, match=message):
        from_odrl(policy)
