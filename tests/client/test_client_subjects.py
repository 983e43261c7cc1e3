"""The client's data-subject result types mirror the service's response schemas."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from exchange.api.schemas import subjects as service
from exchange.client import subjects as client

MIRRORED = [
    (client.Ward, service.WardPublic),
    (client.SubjectColumn, service.SubjectColumnPublic),
    (client.SubjectOverview, service.SubjectOverview),
    (client.OwnRecords, service.OwnRecords),
    (client.Withdrawal, service.WithdrawalPublic),
    (client.DividendPaid, service.DividendPaid),
    (client.DividendStatement, service.DividendStatement),
]


@pytest.mark.parametrize(("mine", "theirs"), MIRRORED, ids=lambda m: m.__name__)
def test_subject_models_name_every_field_of_the_service_schema(
    mine: type[BaseModel], theirs: type[BaseModel]
) -> None:
    assert set(mine.model_fields) == set(theirs.model_fields)
    for name, field in theirs.model_fields.items():
        assert mine.model_fields[name].is_required() == field.is_required(), name
