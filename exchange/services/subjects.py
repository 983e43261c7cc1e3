"""Data subjects: the people in the data.

A person proves who they are to the exchange once (real-name verification by the operator);
the exchange keeps only a keyed pseudonym of their identifier (an AES-CMAC under a key
derived from the master key), on their account, and matches it against a dataset's subject
column, pseudonymised the same way, whenever it needs to know which rows are theirs. Neither
the identifier nor its pseudonym is ever written to the log. A guardian account acts for
minors linked to it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from desensitize.prf import aes_cmac
from exchange.context import Exchange
from exchange.db.models import Account, Dataset, Guardianship
from exchange.errors import Conflict, Forbidden, Invalid, NotFound
from exchange.services.accounts import IssuedKey, create_account
from exchange.services.ids import new_id
from exchange.services.raw import open_table

KEY_LABEL = "subject-identifier"
NULL = b"\x00" * 16  # the digest kept for a row without an identifier; matches no one


@dataclass(frozen=True)
class Person:
    """Someone an account may act for: itself, or a ward."""

    hash: str
    relation: str  # self | ward
    ward_id: str | None = None
    label: str = ""


def _key(exchange: Exchange) -> bytes:
    return exchange.master.derive(KEY_LABEL)[:16]


def normalise(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Identifiers as people type them: surrounding blanks dropped, letters upper case (a
    resident ID number's check character may be an x)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    return pc.utf8_upper(pc.utf8_trim_whitespace(values))


def digests(exchange: Exchange, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The 16-byte pseudonym of each identifier (``NULL`` for a missing or blank one), one
    keyed PRF call per distinct value."""
    normal = normalise(values)
    encoded = normal.dictionary_encode()
    uniques = encoded.dictionary
    out = np.full(len(encoded), NULL, dtype="S16")
    valid = pc.fill_null(pc.greater(pc.utf8_length(normal), 0), False)
    valid_rows = valid.to_numpy(zero_copy_only=False)
    if len(uniques) and valid_rows.any():
        macs = aes_cmac(_key(exchange), uniques).view("S16").ravel()
        codes = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
        out[valid_rows] = macs[codes[valid_rows]]
    return out


def digest_of(exchange: Exchange, identifier: str) -> str:
    """The pseudonym of one identifier, as stored on accounts and withdrawals (hex)."""
    if not identifier or not identifier.strip():
        raise Invalid("identifier must not be empty")
    return bytes(digests(exchange, pa.array([identifier]))[0]).hex()


# Accounts


def register(
    session: Session,
    exchange: Exchange,
    operator: Account,
    *,
    name: str,
    identifier: str,
    evidence: str,
) -> IssuedKey:
    """A subject account for a person whose identity the operator has verified (``evidence``
    names how, e.g. the real-name service's reference)."""
    if not evidence.strip():
        raise Invalid("evidence must say how the person's identity was verified")
    subject_hash = digest_of(exchange, identifier)
    if session.scalar(select(Account.id).where(Account.subject_hash == subject_hash)):
        raise Conflict("this person already has a subject account", code="subject_exists")
    issued = create_account(session, name=name, role="subject", organisation=name)
    issued.account.subject_hash = subject_hash
    session.flush()
    exchange.log.record(
        session,
        "subject_registered",
        actor=operator.id,
        account=issued.account.id,
        evidence=evidence.strip()[:200],
    )
    return issued


def link_ward(
    session: Session,
    exchange: Exchange,
    operator: Account,
    guardian_id: str,
    *,
    identifier: str,
    label: str,
    evidence: str,
) -> Guardianship:
    """Let a subject account act for a minor, once the operator has seen the evidence of
    guardianship (e.g. the household register)."""
    guardian = session.get(Account, guardian_id)
    if guardian is None:
        raise NotFound(f"account {guardian_id} does not exist")
    if guardian.role != "subject":
        raise Invalid(f"account {guardian_id} is a {guardian.role}; a guardian is a subject")
    if not evidence.strip():
        raise Invalid("evidence must say how the guardianship was verified")
    ward_hash = digest_of(exchange, identifier)
    if ward_hash == guardian.subject_hash:
        raise Invalid("a person is not their own ward")
    taken = session.scalar(
        select(Guardianship.id).where(
            Guardianship.guardian_id == guardian.id, Guardianship.ward_hash == ward_hash
        )
    )
    if taken:
        raise Conflict(f"this ward is already linked as {taken}", code="ward_exists")
    link = Guardianship(
        id=new_id("grd"),
        guardian_id=guardian.id,
        ward_hash=ward_hash,
        label=label.strip()[:100],
        evidence=evidence.strip()[:2000],
    )
    session.add(link)
    session.flush()
    exchange.log.record(
        session,
        "guardian_linked",
        actor=operator.id,
        guardian=guardian.id,
        guardianship=link.id,
        evidence=evidence.strip()[:200],
    )
    return link


def persons(session: Session, account: Account) -> list[Person]:
    """The account's own person, then its wards."""
    if account.role != "subject":
        raise Forbidden("only a data subject (or a guardian) has persons in the data")
    out = [Person(account.subject_hash, "self")] if account.subject_hash else []
    for link in session.scalars(
        select(Guardianship)
        .where(Guardianship.guardian_id == account.id)
        .order_by(Guardianship.created_at, Guardianship.id)
    ):
        out.append(Person(link.ward_hash, "ward", link.id, link.label))
    return out


def person(session: Session, account: Account, ward: str | None) -> Person:
    """The account's own person, or the ward named by its guardianship id."""
    for candidate in persons(session, account):
        if (ward is None and candidate.relation == "self") or (
            ward is not None and candidate.ward_id == ward
        ):
            return candidate
    if ward is not None:
        raise NotFound(f"guardianship {ward} is not one of this account's")
    raise Conflict("this account is not bound to a person of its own", code="no_person")


# Rows


def set_subject_column(
    session: Session, exchange: Exchange, dataset: Dataset, column: str | None
) -> Dataset:
    if column is not None and column not in {c["name"] for c in dataset.schema}:
        raise Invalid(f"column {column!r} is not in dataset {dataset.id}")
    dataset.subject_column = column
    exchange.log.record(
        session, "subject_column_set", actor=dataset.provider_id, dataset=dataset.id, column=column
    )
    return dataset


def dataset(session: Session, dataset_id: str) -> Dataset:
    found = session.get(Dataset, dataset_id)
    if found is None:
        raise NotFound(f"dataset {dataset_id} does not exist")
    return found


def require_subject_column(dataset: Dataset) -> str:
    if not dataset.subject_column:
        raise Conflict(
            f"dataset {dataset.id} names no subject column; its provider sets one first",
            code="no_subject_column",
        )
    return dataset.subject_column


def row_digests(exchange: Exchange, dataset: Dataset) -> np.ndarray:
    """The pseudonym of the person of every raw row, in row order."""
    column = require_subject_column(dataset)
    with open_table(exchange, dataset) as parquet:
        values = parquet.read(columns=[column]).column(0)
    return digests(exchange, values)


def rows_of(exchange: Exchange, dataset: Dataset, hashes: list[str]) -> np.ndarray:
    """The raw row positions of these persons, ascending."""
    if not hashes:
        return np.zeros(0, dtype=np.int64)
    wanted = np.array([bytes.fromhex(h) for h in hashes], dtype="S16")
    return np.flatnonzero(np.isin(row_digests(exchange, dataset), wanted))


def own_records(
    exchange: Exchange, dataset: Dataset, subject_hash: str, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """A person's own raw rows (their right of access), the first ``limit`` of them, and
    how many there are."""
    column = require_subject_column(dataset)
    wanted = np.array([bytes.fromhex(subject_hash)], dtype="S16")
    out: list[dict[str, Any]] = []
    total = 0
    with open_table(exchange, dataset) as parquet:
        for batch in parquet.iter_batches(batch_size=100_000):
            mine = np.isin(digests(exchange, batch.column(column)), wanted)
            found = int(mine.sum())
            if found and len(out) < limit:
                rows = batch.filter(pa.array(mine)).slice(0, limit - len(out))
                out.extend(_jsonable(r) for r in rows.to_pylist())
            total += found
    return out, total


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
