"""Accounts and API keys. Keys are shown once and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from exchange.db.models import Account, ApiKey, utcnow
from exchange.errors import Invalid, Unauthorized
from exchange.services.ids import new_id

KEY_PREFIX = "dl_"


class Role(StrEnum):
    PROVIDER = "provider"
    BUYER = "buyer"
    AUDITOR = "auditor"
    OPERATOR = "operator"
    SUBJECT = "subject"  # a person in the data; made by subjects.register only


@dataclass(frozen=True)
class IssuedKey:
    account: Account
    api_key: str  # the only time the secret exists outside the caller's hands


def hash_key(api_key: str) -> str:
    # API keys carry 256 bits of randomness, so a plain hash cannot be brute-forced.
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_account(session: Session, *, name: str, role: str, organisation: str = "") -> IssuedKey:
    try:
        role = Role(role).value
    except ValueError:
        raise Invalid(f"role must be one of {', '.join(r.value for r in Role)}") from None
    if not name.strip():
        raise Invalid("name must not be empty")
    account = Account(
        id=new_id("acc"), name=name.strip(), role=role, organisation=(organisation or name).strip()
    )
    session.add(account)
    issued = issue_key(session, account)
    return issued


def issue_key(session: Session, account: Account) -> IssuedKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            id=new_id("key"), account_id=account.id, key_hash=hash_key(secret), prefix=secret[:8]
        )
    )
    session.flush()
    return IssuedKey(account=account, api_key=secret)


# Built once: every authenticated request runs it, and building a statement costs more
# than looking its compiled form up.
_ACCOUNT_BY_KEY = (
    select(Account)
    .join(ApiKey, ApiKey.account_id == Account.id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)


def authenticate(session: Session, api_key: str) -> Account:
    # Every authenticated request runs this: only the account is loaded, not the key row.
    account = session.scalars(_ACCOUNT_BY_KEY, {"key_hash": hash_key(api_key)}).first()
    if account is None:
        raise Unauthorized("the API key is not valid")
    return account


def revoke_keys(session: Session, account_id: str) -> int:
    keys = session.scalars(
        select(ApiKey).where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
    ).all()
    for key in keys:
        key.revoked_at = utcnow()
    return len(keys)
