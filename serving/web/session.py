"""The pages' sign-in: a signed session cookie holding the API key's id and a CSRF token.

Signing in takes an API key with scope ``worklist``; the cookie then holds only the key's
id (never the key) and a random CSRF token, signed and time-stamped with ``itsdangerous``.
Each request checks again that the key is still active, so a revoked key signs its
sessions out. The cookie is HttpOnly, SameSite=Lax and Secure, except on plain
``http://127.0.0.1`` / ``localhost`` (unless ``session_cookie_secure`` says otherwise).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from ledger.db_schema import API_KEYS
from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.auth import Caller

SESSION_COOKIE = "payrisk_session"
PAGE_SCOPE = "worklist"
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class WebSession:
    """A signed-in page visitor: the key's caller and the session's CSRF token."""

    caller: Caller
    csrf_token: str


def serializer(request: Request) -> URLSafeTimedSerializer:
    """The app's cookie signer; its secret is made once per app when none is configured."""
    state = request.app.state
    signer: URLSafeTimedSerializer | None = getattr(state, "session_signer", None)
    if signer is None:
        settings: Settings = state.settings
        # A random secret signs everyone out on restart: acceptable for one dev process.
        secret = settings.session_secret or secrets.token_urlsafe(32)
        signer = URLSafeTimedSerializer(secret, salt="payrisk-web-session")
        state.session_signer = signer
    return signer


def active_caller(store: LedgerStore, key_id: str) -> Caller | None:
    """The caller of the active key with this id, or None if it is unknown or revoked."""
    query = sa.select(API_KEYS.c.key_id, API_KEYS.c.name, API_KEYS.c.scopes).where(
        API_KEYS.c.key_id == key_id, API_KEYS.c.revoked_at.is_(None)
    )
    with store.engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    return Caller(key_id=row.key_id, name=row.name, scopes=frozenset(row.scopes.split()))


def read_session(request: Request) -> WebSession | None:
    """The request's session, or None when missing, forged, expired or its key revoked."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    settings: Settings = request.app.state.settings
    try:
        data: dict[str, Any] = serializer(request).loads(
            cookie, max_age=settings.session_max_age_seconds
        )
    except BadSignature:
        return None
    caller = active_caller(request.app.state.store, str(data.get("key_id", "")))
    if caller is None or PAGE_SCOPE not in caller.scopes:
        return None
    return WebSession(caller=caller, csrf_token=str(data.get("csrf", "")))


def cookie_secure(request: Request, settings: Settings) -> bool:
    """Whether the cookie needs HTTPS: the setting, else all but plain http on this machine."""
    if settings.session_cookie_secure is not None:
        return settings.session_cookie_secure
    local = request.url.scheme == "http" and request.url.hostname in _LOCAL_HOSTS
    return not local


def set_private_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    samesite: Literal["lax", "strict"],
    path: str,
) -> None:
    """A cookie scripts cannot read, for the session's lifetime, Secure unless local http."""
    settings: Settings = request.app.state.settings
    response.set_cookie(
        name,
        value,
        max_age=settings.session_max_age_seconds,
        httponly=True,
        samesite=samesite,
        secure=cookie_secure(request, settings),
        path=path,
    )


def start_session(request: Request, response: Response, caller: Caller) -> None:
    """Set the signed session cookie for ``caller`` with a fresh CSRF token."""
    token = serializer(request).dumps({"key_id": caller.key_id, "csrf": secrets.token_urlsafe(24)})
    set_private_cookie(request, response, SESSION_COOKIE, token, samesite="lax", path="/")


def end_session(response: Response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/")


def csrf_ok(session: WebSession, submitted: str | None) -> bool:
    """Whether a form's CSRF token is the session's (compared in constant time)."""
    return bool(submitted) and hmac.compare_digest(session.csrf_token, str(submitted))
