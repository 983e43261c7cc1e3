"""The data rights register of a dataset: holding, processing and product operation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from exchange.api.deps import CurrentAccount, ExchangeDep, ReadSessionDep, SessionDep, require
from exchange.api.openapi import account_errors, role_errors
from exchange.api.schemas.rights import RightCreate, RightPublic, RightRevoke
from exchange.db.models import Account
from exchange.services import rights

router = APIRouter(prefix="/v1", tags=["datasets"])
RegistrarAccount = Annotated[Account, Depends(require("provider", "operator"))]
_NOT_YOURS = (403, "another provider's dataset")


@router.post(
    "/datasets/{dataset_id}/rights",
    status_code=201,
    response_model=RightPublic,
    summary="Register a holding, processing or operation right and its holder",
    responses=role_errors(_NOT_YOURS, 404, 422),
)
def register(
    dataset_id: str,
    body: RightCreate,
    session: SessionDep,
    account: RegistrarAccount,
    exchange: ExchangeDep,
) -> RightPublic:
    """**Who:** the dataset's provider, or an operator confirming rights. Once a dataset
    has a register, every revenue-share party of a new offer (the provider included; not
    the platform or the subject pool) must hold a registered right; datasets of the grades
    in `DATALEASE_RIGHTS_GRADES` need one before any offer. Logged."""
    entry = rights.register(
        session,
        exchange,
        account,
        dataset_id,
        right=body.right,
        holder=body.holder,
        organisation=body.organisation,
        evidence=body.evidence,
    )
    session.commit()
    return RightPublic(**rights.view(entry))


@router.get(
    "/datasets/{dataset_id}/rights",
    response_model=list[RightPublic],
    summary="The dataset's rights register, revoked entries included",
    responses=account_errors(404),
)
def register_of(dataset_id: str, session: ReadSessionDep, _: CurrentAccount) -> list[RightPublic]:
    """**Who:** any account: who holds, processes and operates the data is public to the
    market, so buyers know whom their payments reach."""
    return [RightPublic(**rights.view(e)) for e in rights.entries(session, dataset_id)]


@router.post(
    "/datasets/{dataset_id}/rights/{right_id}/revoke",
    response_model=RightPublic,
    summary="End a registered right; offers made later cannot share with its holder",
    responses=role_errors(_NOT_YOURS, 404, (409, "already revoked"), 422),
)
def revoke(
    dataset_id: str,
    right_id: str,
    body: RightRevoke,
    session: SessionDep,
    account: RegistrarAccount,
    exchange: ExchangeDep,
) -> RightPublic:
    """**Who:** the dataset's provider, or an operator. The entry stays in the register
    with the time and reason it ended. Logged."""
    entry = rights.revoke(session, exchange, account, dataset_id, right_id, body.reason)
    session.commit()
    return RightPublic(**rights.view(entry))
