"""CSRF tokens for the forms of the pages, before and after sign-in.

Signed in, a form carries the session's own token (``serving.web.session``: a random
value inside the signed session cookie) and ``session.csrf_ok`` checks it. The sign-in
form has no session yet, so it gets a *pre-session* token: a random nonce in its own
HttpOnly, SameSite=Strict cookie, and in the form that nonce signed (with the session
secret, under its own salt, time-stamped). A POST is accepted only when the signed field
opens to the cookie's nonce: another site can neither read the cookie nor forge the
signature, so it cannot sign a victim in with the attacker's key (login CSRF).
Every refusal is the same 403 page, and nothing is stored.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from payrisk.settings import Settings
from serving.web.session import serializer, set_private_cookie

SIGNIN_CSRF_COOKIE = "payrisk_signin_csrf"
CSRF_FIELD = "csrf"
_SALT = "payrisk-signin-csrf"
_NONCE_BYTES = 24


def _signer(request: Request) -> URLSafeTimedSerializer:
    # The session's secret, another salt: a session cookie never passes as a form token.
    return URLSafeTimedSerializer(serializer(request).secret_key, salt=_SALT)


def _max_age(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.session_max_age_seconds


def signin_token(request: Request) -> tuple[str, str | None]:
    """The sign-in form's token, and a new nonce to set as cookie (None: keep the cookie's)."""
    nonce = request.cookies.get(SIGNIN_CSRF_COOKIE) or ""
    fresh = None
    if len(nonce) < _NONCE_BYTES:
        nonce = fresh = secrets.token_urlsafe(_NONCE_BYTES)
    return str(_signer(request).dumps(nonce)), fresh


def set_signin_cookie(request: Request, response: Response, nonce: str | None) -> None:
    """Set the pre-session nonce cookie when ``nonce`` is new."""
    if nonce is None:
        return
    set_private_cookie(
        request, response, SIGNIN_CSRF_COOKIE, nonce, samesite="strict", path="/signin"
    )


def drop_signin_cookie(response: Response) -> None:
    """Remove the pre-session nonce (after a successful sign-in)."""
    response.delete_cookie(SIGNIN_CSRF_COOKIE, path="/signin")


def signin_csrf_ok(request: Request, submitted: str | None) -> bool:
    """Whether the sign-in form's token is the signed nonce of this browser's cookie."""
    nonce = request.cookies.get(SIGNIN_CSRF_COOKIE)
    if not nonce or not submitted:
        return False
    try:
        signed: object = _signer(request).loads(submitted, max_age=_max_age(request))
    except BadSignature:
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed, nonce)
