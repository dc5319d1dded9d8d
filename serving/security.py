"""The security headers every response carries, pages and API alike.

* ``Content-Security-Policy``: no inline script or style, nothing from another origin,
  no framing (``frame-ancestors 'none'``), forms post only here. The pages keep their
  JavaScript in ``serving/web/static/``.
* ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (for browsers without
  ``frame-ancestors``) and ``Referrer-Policy: same-origin``.

The interactive API docs (``/docs``, ``/redoc``) are FastAPI's own pages: they run an
inline script and load Swagger UI / ReDoc from jsDelivr, so they get a policy that allows
exactly that and still forbids framing. A header the app already set is left as it is.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_CONTENT_SECURITY_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_DOCS_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_DOCS_CDN}; img-src 'self' data: https:; "
    f"worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def content_security_policy(path: str) -> str:
    """The policy for a request path: the strict one, except on the API docs pages."""
    return DOCS_CONTENT_SECURITY_POLICY if path in DOCS_PATHS else CONTENT_SECURITY_POLICY


def add_security_headers(headers: MutableHeaders, path: str) -> None:
    """Add the security headers to a response's headers (keeping any already there)."""
    headers.setdefault("Content-Security-Policy", content_security_policy(path))
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
