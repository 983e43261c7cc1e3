"""The client's data-subject calls: registering a verified person and linking a guardian's
wards (operators), naming a dataset's subject column, its minors' data and its rights
register (providers), and what a subject or
guardian does: see where their data went, read their own records, withdraw consent, and
read their dividend statement. Paying dividends out is an operator's call here too."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, Field

from exchange.client import models as m

T = TypeVar("T", bound=BaseModel)


class Ward(m.ApiModel):
    id: str
    guardian_id: str
    label: str
    created_at: datetime


class SubjectColumn(m.ApiModel):
    dataset_id: str
    subject_column: str | None
    consent_version: int


class Minors(m.ApiModel):
    dataset_id: str
    minors: bool
    basis: str | None
    min_k: int


class DataRight(m.ApiModel):
    id: str
    dataset_id: str
    right: str
    holder: str
    organisation: str
    evidence: str
    registered_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoke_reason: str


class SubjectOverview(m.ApiModel):
    account_id: str
    persons: list[dict[str, Any]] = Field(
        description="per person (self, or a ward): datasets, the releases holding them, "
        "lessees and purposes, consent"
    )


class OwnRecords(m.ApiModel):
    dataset_id: str
    relation: str
    total: int
    rows: list[dict[str, Any]]


class Withdrawal(m.ApiModel):
    id: str
    dataset_id: str
    consent_version: int
    created_at: datetime


class DividendPaid(m.ApiModel):
    dataset_id: str
    release_id: str
    ledger_index: int
    leases: int
    persons: int
    amount_minor: int


class DividendStatement(m.ApiModel):
    account_id: str
    persons: list[dict[str, Any]]


class SubjectCalls:
    """Mixed into :class:`~exchange.client.Client`, which supplies the plumbing."""

    if TYPE_CHECKING:

        def _one(self, model: type[T], method: str, path: str, **kwargs: Any) -> T: ...

        def _many(self, model: type[T], method: str, path: str, **kwargs: Any) -> list[T]: ...

    def register_subject(self, name: str, identifier: str, evidence: str) -> m.AccountWithKey:
        """Operators: a subject account for a person whose identity was verified; the
        identifier is kept only as a keyed pseudonym. The key is shown once."""
        body = {"name": name, "identifier": identifier, "evidence": evidence}
        return self._one(m.AccountWithKey, "POST", "/v1/subjects", json=body)

    def link_ward(self, guardian_id: str, identifier: str, *, label: str, evidence: str) -> Ward:
        """Operators: let a guardian's subject account act for a minor."""
        body = {"identifier": identifier, "label": label, "evidence": evidence}
        return self._one(Ward, "POST", f"/v1/subjects/{guardian_id}/wards", json=body)

    def set_subject_column(self, dataset_id: str, column: str | None) -> SubjectColumn:
        """Providers: the column holding each row's person identifier."""
        return self._one(
            SubjectColumn,
            "PUT",
            f"/v1/datasets/{dataset_id}/subject-column",
            json={"column": column},
        )

    def declare_minors(self, dataset_id: str, basis: str | None) -> Minors:
        """Providers: the dataset holds minors' data on this guardians' consent (None: not)."""
        return self._one(Minors, "PUT", f"/v1/datasets/{dataset_id}/minors", json={"basis": basis})

    def register_right(
        self, dataset_id: str, right: str, holder: str, *, organisation: str = "", evidence: str
    ) -> DataRight:
        """Providers and operators: a holding, processing or operation right and its holder
        ('provider' or 'party:<name>'); revenue shares then follow the register."""
        body = {"right": right, "holder": holder, "organisation": organisation,
                "evidence": evidence}  # fmt: skip
        return self._one(DataRight, "POST", f"/v1/datasets/{dataset_id}/rights", json=body)

    def rights(self, dataset_id: str) -> list[DataRight]:
        """Anyone with a key: the dataset's rights register."""
        return self._many(DataRight, "GET", f"/v1/datasets/{dataset_id}/rights")

    def my_data(self) -> SubjectOverview:
        """Subjects: where my (and my wards') data went."""
        return self._one(SubjectOverview, "GET", "/v1/subjects/me")

    def my_records(self, dataset_id: str, *, ward: str | None = None) -> OwnRecords:
        """Subjects: my own (or a ward's) raw rows of a dataset."""
        params = {"ward": ward} if ward else {}
        return self._one(OwnRecords, "GET", f"/v1/subjects/me/records/{dataset_id}", params=params)

    def withdraw_consent(
        self,
        dataset_ids: list[str] | None = None,
        *,
        ward: str | None = None,
        reason: str = "",
    ) -> list[Withdrawal]:
        """Subjects: withdraw consent (for a ward, if named) from the datasets named, or
        from every dataset holding the person."""
        body: dict[str, Any] = {"dataset_ids": dataset_ids, "ward": ward, "reason": reason}
        return self._many(Withdrawal, "POST", "/v1/subjects/me/withdrawals", json=body)

    def pay_dividends(self) -> list[DividendPaid]:
        """Operators: pay the pool shares of ended leases to the persons of their releases."""
        return self._many(DividendPaid, "POST", "/v1/dividends")

    def my_dividends(self) -> DividendStatement:
        """Subjects: my (and my wards') dividend statement."""
        return self._one(DividendStatement, "GET", "/v1/subjects/me/dividends")
