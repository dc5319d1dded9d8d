"""Rendering a page: the Jinja2 templates with the request's language, headers and cookies.

Every page gets ``t`` (``serving.web.i18n.Texts``: formats by locale), ``_`` (the text
lookup) and ``session``. Pages carry a strict Content-Security-Policy: no inline script,
nothing from another origin.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from serving.security import CONTENT_SECURITY_POLICY
from serving.web.i18n import LANG_COOKIE, LANGUAGES, texts_for
from serving.web.session import WebSession

TEMPLATE_DIR = Path(__file__).parent / "templates"
KIND_LABELS = {
    "call": "Call",
    "reminder": "Reminder",
    "promise": "Promise to pay",
    "dispute_opened": "Dispute opened",
    "dispute_resolved": "Dispute resolved",
    "note": "Note",
    "reassign": "Reassignment",
}


@functools.cache
def templates() -> Jinja2Templates:
    """The page templates (built on first use, not at import)."""
    return Jinja2Templates(directory=str(TEMPLATE_DIR))


def _with_query(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def secure_headers(response: Response) -> Response:
    """Add the pages' security headers."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def remember_language(request: Request, response: Response) -> Response:
    """Keep an explicit ``?lang=`` choice in a cookie for the next pages."""
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(LANG_COOKIE, str(chosen), max_age=365 * 24 * 3600, samesite="lax")
    return response


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    session: WebSession | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The template ``name`` as a page in the request's language."""
    texts = texts_for(request)
    values = {
        "t": texts,
        "_": texts.gettext,
        "session": session,
        "kind_labels": KIND_LABELS,
        "with_query": functools.partial(_with_query, request),
        **context,
    }
    response = templates().TemplateResponse(request, name, values, status_code=status_code)
    return secure_headers(remember_language(request, response))  # type: ignore[return-value]


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other to ``url`` (after a form POST or to the sign-in page)."""
    return RedirectResponse(url, status_code=303)


def to_signin(request: Request) -> RedirectResponse:
    """Send a visitor without a session to the sign-in page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect("/signin?" + urlencode({"next": target}))


def safe_next(target: str | None) -> str:
    """A local path to go to after sign-in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/worklist"
    return target
