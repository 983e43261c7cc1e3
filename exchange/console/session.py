"""The console's sign-in session: an encrypted, authenticated cookie and its CSRF token.

The API key a person signs in with is sealed with AES-GCM under a key derived from the
exchange's master key, so the cookie is unreadable and unforgeable in the browser, and
every worker process of one exchange opens it (no session table to share). The cookie
is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and
expires after ``MAX_AGE`` seconds. Each session carries a random CSRF token that every
form echoes back; a POST without it is refused.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "datalease_console"
LOGIN_COOKIE = "datalease_console_login"  # the sign-in form's own CSRF token (no session yet)
PATH = "/console"
MAX_AGE = 8 * 3600
_AAD = b"datalease console session v1"
_NONCE = 12


@dataclass(frozen=True)
class ConsoleSession:
    key: str
    csrf: str
    account_id: str
    name: str
    role: str
    organisation: str
    expires: float
    # Duties open pages beyond the role's (listing reviews, approval steps); a session
    # sealed before they were kept has none.
    duties: tuple[str, ...] = ()


class SessionSealer:
    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(secret)

    def seal(self, session: ConsoleSession) -> str:
        nonce = secrets.token_bytes(_NONCE)
        plain = json.dumps(asdict(session), separators=(",", ":")).encode("utf-8")
        sealed = nonce + self._aead.encrypt(nonce, plain, _AAD)
        return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def open(self, token: str | None) -> ConsoleSession | None:
        if not token or len(token) > 4096:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], _AAD)
            fields = json.loads(plain)
            fields["duties"] = tuple(fields.get("duties", ()))
            session = ConsoleSession(**fields)
        except (ValueError, TypeError, InvalidTag):
            return None
        return session if session.expires > time.time() else None


def new_session(key: str, me: dict[str, Any]) -> ConsoleSession:
    return ConsoleSession(
        key=key,
        csrf=secrets.token_urlsafe(32),
        account_id=str(me.get("id", "")),
        name=str(me.get("name", "")),
        role=str(me.get("role", "")),
        organisation=str(me.get("organisation", "") or ""),
        expires=time.time() + MAX_AGE,
        duties=tuple(str(d) for d in (me.get("duties") or ())),
    )


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path=PATH, httponly=True, samesite="strict")


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
