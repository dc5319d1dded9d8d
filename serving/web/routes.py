"""The managers' pages: sign-in, worklist, customer, KPIs and model card (no /v1 prefix).

Every page but the sign-in needs a session (``serving.web.session``); without one it
redirects to ``/signin``. Forms carry the session's CSRF token; a POST without the right
one is refused (403) and stores nothing. Data comes from the same readers as the API.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, Response

from serving.actions import ActionRejected, UnknownCustomer, log_action
from serving.auth import KeyAuthenticator
from serving.deps import WrittenCustomers
from serving.ingest import IngestRejected
from serving.lanes import BulkLane
from serving.model_health import health_view
from serving.web.charts_view import history_chart, kpi_charts
from serving.web.csrf import (
    drop_signin_cookie,
    set_signin_cookie,
    signin_csrf_ok,
    signin_token,
)
from serving.web.customer_view import customer_view
from serving.web.forms import FORM_KINDS, ActionForm, field_messages, parse_action
from serving.web.i18n import texts_for
from serving.web.render import redirect, render, safe_next, to_signin
from serving.web.reports_view import PLOTS, kpi_view, model_view, plot_bytes
from serving.web.session import (
    PAGE_SCOPE,
    WebSession,
    csrf_ok,
    end_session,
    read_session,
    start_session,
)
from serving.web.worklist_view import (
    SORTABLE,
    WorklistQuery,
    unusable_params,
    worklist_csv_text,
    worklist_view,
)
from serving.worklist_filters import FILTER_FIELDS
from serving.worklist_reads import csv_download, today_utc

router = APIRouter(tags=["pages"], include_in_schema=False)
STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {
    "app.css": "text/css",
    "sort.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}


@router.get("/")
def home() -> Response:
    """The worklist is the home page."""
    return redirect("/worklist")


@router.get("/static/{file_name}")
def static_file(file_name: str) -> Response:
    """The vendored CSS, JS and icon (a fixed list: nothing else on disk is reachable)."""
    if file_name not in STATIC_FILES:
        return Response(status_code=404)
    headers = {"Cache-Control": "public, max-age=3600"}
    return FileResponse(STATIC_DIR / file_name, media_type=STATIC_FILES[file_name], headers=headers)


@router.get("/signin")
def signin_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form (or straight on, when already signed in)."""
    if read_session(request) is not None:
        return redirect(safe_next(next))
    return _signin_form(request, next, None)


def _signin_form(
    request: Request, next: str | None, error: str | None, status: int = 200
) -> Response:
    """The sign-in page with its pre-session CSRF token (``serving.web.csrf``)."""
    token, fresh_nonce = signin_token(request)
    context = {"next": safe_next(next), "error": error, "csrf": token}
    response = render(request, "signin.html", context, status_code=status)
    set_signin_cookie(request, response, fresh_nonce)
    return response


@router.post("/signin")
def signin(
    request: Request,
    key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Check the form's CSRF token and the API key; on success set the session cookie."""
    if not signin_csrf_ok(request, csrf):
        return _csrf_refused(request, None)
    _ = texts_for(request).gettext
    authenticator: KeyAuthenticator = request.app.state.authenticator
    caller = authenticator.authenticate(key.strip()) if key.strip() else None
    error, status = None, 200
    if caller is None:
        error, status = _("This key is wrong, expired or revoked."), 401
    elif PAGE_SCOPE not in caller.scopes:
        error, status = _("This key lacks the scope worklist."), 403
    if error is not None or caller is None:
        return _signin_form(request, next, error, status)
    response = redirect(safe_next(next))
    start_session(request, response, caller)
    drop_signin_cookie(response)
    return response


@router.post("/signout")
def signout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session (the form carries the CSRF token)."""
    session = read_session(request)
    if session is not None and not csrf_ok(session, csrf):
        return _csrf_refused(request, session)
    response = redirect("/signin")
    end_session(response)
    return response


def _csrf_refused(request: Request, session: WebSession | None) -> Response:
    context = {"title": "Form expired", "message": "Reload the page and send the form again."}
    return render(request, "error.html", context, session, status_code=403)


@router.get("/worklist", dependencies=[BulkLane])
def worklist_page(request: Request) -> Response:
    """The ranked worklist with filters, sort and paging."""
    session = read_session(request)
    if session is None:
        return to_signin(request)
    query = WorklistQuery.from_params(request.query_params)
    language = texts_for(request).language
    view = request.app.state.bulk.run(worklist_view, query, today_utc(), language)
    context = {"query": query, "sortable": SORTABLE, "filter_fields": FILTER_FIELDS, **view}
    context["unusable"] = unusable_params(request.query_params)
    context["reporting_currency"] = request.app.state.settings.reporting_currency
    context["today"] = today_utc()
    return render(request, "worklist.html", context, session)


@router.get("/worklist.csv", dependencies=[BulkLane])
def worklist_csv(request: Request) -> Response:
    """The filtered worklist as CSV (the API's export; unknown filter values are ignored)."""
    if read_session(request) is None:
        return to_signin(request)
    as_of = today_utc()
    query = WorklistQuery.from_params(request.query_params)
    return csv_download(request.app.state.bulk.run(worklist_csv_text, query, as_of), as_of)


def _customer_page(
    request: Request,
    customer_id: str,
    session: WebSession,
    form: ActionForm | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    language = texts_for(request).language
    settings = request.app.state.settings
    view = request.app.state.bulk.run(customer_view, customer_id, today_utc(), language)
    if view is None:
        context: dict[str, Any] = {
            "title": "Customer not found",
            "message": "No customer has the id %(id)s.",
            "values": {"id": customer_id},
        }
        return render(request, "error.html", context, session, status_code=404)
    context = {
        **view,
        "form": form or ActionForm(),
        "errors": errors or {},
        "kinds": FORM_KINDS,
        "today": today_utc(),
        "saved": request.query_params.get("saved"),
        "history_chart": history_chart(view["history"], texts_for(request)),
        "reporting_currency": settings.reporting_currency,
    }
    return render(request, "customer.html", context, session, status_code)


@router.get("/customers/{customer_id}", dependencies=[BulkLane])
def customer_page(request: Request, customer_id: str) -> Response:
    """One customer: header, payment history, open invoices, reasons, activities, forms."""
    session = read_session(request)
    if session is None:
        return to_signin(request)
    return _customer_page(request, customer_id, session)


@router.post("/customers/{customer_id}/actions", dependencies=[BulkLane])
def log_customer_action(
    request: Request,
    customer_id: str,
    written: WrittenCustomers,
    csrf: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    promised_date: Annotated[str, Form()] = "",
    promised_amount: Annotated[str, Form()] = "",
    invoice_id: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    collector: Annotated[str, Form()] = "",
) -> Response:
    """Log an action from the customer page's form; errors are shown next to their field."""
    session = read_session(request)
    if session is None:
        return to_signin(request)
    if not csrf_ok(session, csrf):
        return _csrf_refused(request, session)
    form = ActionForm.of(
        {
            "kind": kind,
            "promised_date": promised_date,
            "promised_amount": promised_amount,
            "invoice_id": invoice_id,
            "text": text,
            "collector": collector,
        }
    )
    today = today_utc()
    action, errors = parse_action(form, customer_id, today)
    if action is not None:
        try:
            log_action(request.app.state.store, action, session.caller.name, today)
        except UnknownCustomer:
            return _customer_page(request, customer_id, session)
        except ActionRejected as error:
            errors = field_messages(error.problems)
        except IngestRejected as error:
            errors = {"form": str(error)}
        else:
            written.add(customer_id)
            return redirect(f"/customers/{quote(customer_id, safe='')}?saved={action.kind}")
    return _customer_page(request, customer_id, session, form, errors, 422)


@router.get("/kpis", dependencies=[BulkLane])
def kpis_page(request: Request) -> Response:
    """AR KPIs now and their monthly trend (aging, DSO, CEI)."""
    session = read_session(request)
    if session is None:
        return to_signin(request)
    view = request.app.state.bulk.run(kpi_view, today_utc())
    texts = texts_for(request)
    view["blocks"] = [block | kpi_charts(block, texts) for block in view["blocks"]]
    return render(request, "kpis.html", {**view, "today": today_utc()}, session)


@router.get("/model", dependencies=[BulkLane])
def model_page(request: Request) -> Response:
    """The model card: which version serves, its test metrics beside the baselines, plots,
    and its health (drift status and PSI of the recent scores, ``serving.model_health``)."""
    session = read_session(request)
    if session is None:
        return to_signin(request)
    holder, state = request.app.state.holder, request.app.state
    health = health_view(state.store, state.settings, holder.current())
    return render(request, "model.html", {**model_view(holder), **health, "plots": PLOTS}, session)


@router.get("/model/plots/{file_name}")
def model_plot(request: Request, file_name: str) -> Response:
    """A PNG plot of the serving model's training run, read from MLflow."""
    if read_session(request) is None:
        return to_signin(request)
    with tempfile.TemporaryDirectory(prefix="payrisk-plot-") as folder:
        content = plot_bytes(request.app.state.holder, file_name, Path(folder))
    if content is None:
        return Response(status_code=404)
    return Response(
        content, media_type="image/png", headers={"Cache-Control": "private, max-age=600"}
    )
