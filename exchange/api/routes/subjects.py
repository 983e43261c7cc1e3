"""Data subjects: registration after identity verification, guardians of minors, the
subject column of a dataset, where a person's data went, their own records, and consent
withdrawal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from exchange.api.deps import (
    ExchangeDep,
    OperatorAccount,
    ProviderAccount,
    ReadSessionDep,
    SessionDep,
    require,
)
from exchange.api.openapi import role_errors
from exchange.api.routes.accounts import SECRET_NOTE
from exchange.api.schemas import AccountCreated, AccountPublic
from exchange.api.schemas.subjects import (
    DividendPaid,
    DividendStatement,
    MinorsDeclaration,
    MinorsPublic,
    OwnRecords,
    SubjectColumn,
    SubjectColumnPublic,
    SubjectCreate,
    SubjectOverview,
    WardCreate,
    WardPublic,
    WithdrawalCreate,
    WithdrawalPublic,
)
from exchange.db.models import Account
from exchange.services import consent, dividends, minors, subject_portal, subjects
from exchange.services.datasets import get_owned

router = APIRouter(prefix="/v1", tags=["subjects"])
SubjectAccount = Annotated[Account, Depends(require("subject"))]


@router.post(
    "/subjects",
    status_code=201,
    response_model=AccountCreated,
    summary="Register a data subject whose identity was verified (API key shown once)",
    description="**Who:** operators, after verifying the person's identity (real-name "
    "check). The account is bound to a keyed pseudonym of the identifier; the identifier "
    "itself is neither stored nor logged. One account per person. " + SECRET_NOTE,
    responses=role_errors((409, "the person already has an account"), 422),
)
def register(
    body: SubjectCreate, session: SessionDep, operator: OperatorAccount, exchange: ExchangeDep
) -> AccountCreated:
    issued = subjects.register(
        session,
        exchange,
        operator,
        name=body.name,
        identifier=body.identifier,
        evidence=body.evidence,
    )
    session.commit()
    return AccountCreated(**AccountPublic.of(issued.account).model_dump(), api_key=issued.api_key)


@router.post(
    "/subjects/{account_id}/wards",
    status_code=201,
    response_model=WardPublic,
    summary="Link a minor to a guardian's subject account",
    responses=role_errors(404, (409, "the ward is already linked"), 422),
)
def link_ward(
    account_id: str,
    body: WardCreate,
    session: SessionDep,
    operator: OperatorAccount,
    exchange: ExchangeDep,
) -> WardPublic:
    """**Who:** operators, once they have seen evidence of guardianship (e.g. the household
    register). The guardian then sees the ward's data and may withdraw consent for them;
    logged without the ward's identifier."""
    link = subjects.link_ward(
        session,
        exchange,
        operator,
        account_id,
        identifier=body.identifier,
        label=body.label,
        evidence=body.evidence,
    )
    session.commit()
    return WardPublic(
        id=link.id, guardian_id=link.guardian_id, label=link.label, created_at=link.created_at
    )


@router.put(
    "/datasets/{dataset_id}/subject-column",
    response_model=SubjectColumnPublic,
    tags=["datasets"],
    summary="Name the column holding each row's person identifier",
    responses=role_errors((403, "another provider's dataset"), 404, 422),
)
def set_subject_column(
    dataset_id: str,
    body: SubjectColumn,
    session: SessionDep,
    provider: ProviderAccount,
    exchange: ExchangeDep,
) -> SubjectColumnPublic:
    """**Who:** the dataset's provider. Data subjects are matched on this column (by keyed
    pseudonym): they see the dataset in their overview and may withdraw consent. Logged."""
    dataset = get_owned(session, dataset_id, provider)
    subjects.set_subject_column(session, exchange, dataset, body.column)
    session.commit()
    return SubjectColumnPublic(
        dataset_id=dataset.id,
        subject_column=dataset.subject_column,
        consent_version=dataset.consent_version,
    )


@router.put(
    "/datasets/{dataset_id}/minors",
    response_model=MinorsPublic,
    tags=["datasets"],
    summary="Declare that a dataset holds minors' data, on the guardians' consent",
    responses=role_errors((403, "another provider's dataset"), 404, 422),
)
def declare_minors(
    dataset_id: str,
    body: MinorsDeclaration,
    session: SessionDep,
    provider: ProviderAccount,
    exchange: ExchangeDep,
) -> MinorsPublic:
    """**Who:** the dataset's provider. Children's data (under 14) is sensitive personal
    information: with a basis recorded, every release needs at least `DATALEASE_MINORS_MIN_K`
    persons per class and releases no raw value (each column dropped, pseudonymised,
    generalized, suppressed or noised); a lease whose release breaks this is refused. Null
    clears it. Logged."""
    dataset = get_owned(session, dataset_id, provider)
    minors.declare(session, exchange, provider, dataset, body.basis)
    session.commit()
    return MinorsPublic(
        dataset_id=dataset.id,
        minors=dataset.minors_basis is not None,
        basis=dataset.minors_basis,
        min_k=exchange.settings.minors_min_k,
    )


@router.get(
    "/subjects/me",
    response_model=SubjectOverview,
    summary="Where my data (and my wards') went: datasets, releases, lessees and purposes",
    responses=role_errors(),
)
def overview(
    session: ReadSessionDep, account: SubjectAccount, exchange: ExchangeDep
) -> SubjectOverview:
    """**Who:** data subjects and guardians. Each dataset holding the person, the releases
    that hold their rows, which organisations leased those for what purpose and period,
    and whether consent was withdrawn."""
    return SubjectOverview(**subject_portal.overview(session, exchange, account))


@router.get(
    "/subjects/me/records/{dataset_id}",
    response_model=OwnRecords,
    summary="My own (or my ward's) raw records in a dataset",
    responses=role_errors(404, (409, "the dataset names no subject column"), 422),
)
def own_records(
    dataset_id: str,
    session: ReadSessionDep,
    account: SubjectAccount,
    exchange: ExchangeDep,
    ward: str | None = Query(None, max_length=40, description="a guardianship id"),
    limit: int = Query(1000, ge=1, le=10_000),
) -> OwnRecords:
    """**Who:** data subjects and guardians. The person's own rows as the provider holds
    them (the right of access): a guardian follows their child's school-bus boardings this
    way. Logged as an access."""
    person = subjects.person(session, account, ward)
    dataset = subjects.dataset(session, dataset_id)
    rows, total = subjects.own_records(exchange, dataset, person.hash, limit)
    # Logged in a short transaction of its own: the read above holds no write lock.
    with exchange.sessions() as log_session:
        exchange.log.record(
            log_session,
            "subject_records_read",
            actor=account.id,
            dataset=dataset.id,
            on_behalf_of=person.relation,
            rows=total,
        )
        log_session.commit()
    return OwnRecords(dataset_id=dataset.id, relation=person.relation, total=total, rows=rows)


@router.post(
    "/subjects/me/withdrawals",
    status_code=201,
    response_model=list[WithdrawalPublic],
    summary="Withdraw consent: the datasets' next releases leave the person's rows out",
    responses=role_errors(404, (409, "a dataset named holds no rows of the person"), 422),
)
def withdraw(
    body: WithdrawalCreate, read: ReadSessionDep, account: SubjectAccount, exchange: ExchangeDep
) -> list[WithdrawalPublic]:
    """**Who:** data subjects, and guardians for a ward. Every later release of each dataset
    leaves the person's rows out; leases of earlier releases carry a notice. Each withdrawal
    is logged."""
    withdrawing = consent.plan(
        read, exchange, account, ward=body.ward, dataset_ids=body.dataset_ids
    )
    # The rows were matched by reading only; the write below is short.
    with exchange.sessions() as session:
        done = consent.withdraw(session, exchange, account, withdrawing, body.reason)
        session.commit()
        return [
            WithdrawalPublic(
                id=w.id,
                dataset_id=w.dataset_id,
                consent_version=w.consent_version,
                created_at=w.created_at,
            )
            for w in done
        ]


@router.post(
    "/dividends",
    status_code=201,
    response_model=list[DividendPaid],
    summary="Pay the subject-pool shares of ended leases to the persons of their releases",
    responses=role_errors(),
)
def pay_dividends(
    read: ReadSessionDep, operator: OperatorAccount, exchange: ExchangeDep
) -> list[DividendPaid]:
    """**Who:** operators. Every paid lease that has ended (expired, or revoked and
    refunded) and is not paid out yet: its subject-pool share is split exactly among the
    persons of its release, one dividend transaction per release, which the offline
    verifier recomputes. An empty list when nothing is due."""
    planned = dividends.plan(read, exchange)  # the releases' persons, by reading only
    with exchange.sessions() as session:
        paid = dividends.pay(session, exchange, operator, planned)
        session.commit()
    return [DividendPaid(**p) for p in paid]


@router.get(
    "/subjects/me/dividends",
    response_model=DividendStatement,
    summary="My dividend statement (and my wards'), from the ledger",
    responses=role_errors(),
)
def dividend_statement(session: ReadSessionDep, account: SubjectAccount) -> DividendStatement:
    """**Who:** data subjects and guardians. Each dividend paid to the person's ledger account
    (named by their pseudonym): the release, how many leases and persons shared it, and
    their part in fen."""
    return DividendStatement(**dividends.statement(session, account))
