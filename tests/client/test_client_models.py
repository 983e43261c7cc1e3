"""The client's result types mirror the service's response schemas field for field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from exchange.api import schemas
from exchange.api.schemas import rights as rights_schemas
from exchange.api.schemas import subjects as subject_schemas
from exchange.client import models
from exchange.client import subjects as subject_models

MIRRORED = [
    (models.Account, schemas.AccountPublic),
    (models.AccountWithKey, schemas.AccountCreated),
    (models.Dataset, schemas.DatasetPublic),
    (models.Preview, schemas.PreviewPublic),
    (models.BudgetRequest, schemas.BudgetRequestPublic),
    (models.Offer, schemas.OfferPublic),
    (models.Lease, schemas.LeasePublic),
    (models.ApprovalStep, schemas.ApprovalStep),
    (models.Transparency, schemas.Transparency),
    (models.ObjectionFiled, schemas.ObjectionFiled),
    (models.Objection, schemas.ObjectionPublic),
    (subject_models.Ward, subject_schemas.WardPublic),
    (subject_models.SubjectColumn, subject_schemas.SubjectColumnPublic),
    (subject_models.SubjectOverview, subject_schemas.SubjectOverview),
    (subject_models.OwnRecords, subject_schemas.OwnRecords),
    (subject_models.Withdrawal, subject_schemas.WithdrawalPublic),
    (subject_models.DividendPaid, subject_schemas.DividendPaid),
    (subject_models.DividendStatement, subject_schemas.DividendStatement),
    (subject_models.Minors, subject_schemas.MinorsPublic),
    (subject_models.DataRight, rights_schemas.RightPublic),
]


@pytest.mark.parametrize(("client", "service"), MIRRORED, ids=lambda m: m.__name__)
def test_client_models_name_every_field_of_the_service_schema(
    client: type[BaseModel], service: type[BaseModel]
):
    assert set(client.model_fields) == set(service.model_fields)
    for name, field in service.model_fields.items():
        assert client.model_fields[name].is_required() == field.is_required(), name


def test_the_client_loads_without_the_service():
    import subprocess
    import sys

    code = (
        "import sys; import exchange.client, exchange.commands; "
        "heavy = {'pandas', 'sqlalchemy', 'fastapi', 'desensitize'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
