"""Every error the service returns is JSON: validation, auth, limits, database, bugs.

``ApiError`` is how service code says "answer with this status and body". The handlers
below turn FastAPI's validation errors, payrisk's user errors and database outages into
clear 4xx / 503 bodies; only a true bug reaches the catch-all 500, which is logged with
its request id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ledger.errors import PayriskError
from ledger.store import SchemaOutOfDate, StoreError, StoreUnavailable

logger = logging.getLogger("serving.errors")

REQUEST_ID_HEADER = "X-Request-ID"


class ApiError(Exception):
    """An answer other than success: status, JSON body (``detail`` first), extra headers."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.body = {"detail": detail, **extra}
        self.headers = dict(headers or {})


def request_id_of(request: Request) -> str | None:
    """The id ``RequestContextMiddleware`` gave this request."""
    return getattr(request.state, "request_id", None)


def _json(request: Request, status_code: int, body: dict[str, Any], **headers: str) -> JSONResponse:
    request_id = request_id_of(request)
    if request_id is not None:
        headers[REQUEST_ID_HEADER] = request_id
    return JSONResponse(body, status_code=status_code, headers=headers or None)


def _field_of(location: Sequence[Any]) -> str:
    """The dotted field name of a pydantic error location, without "body" / "query"."""
    parts = [str(part) for part in location]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


def _problem(item: Mapping[str, Any]) -> dict[str, Any]:
    location = [part if isinstance(part, int) else str(part) for part in item.get("loc", ())]
    kind = str(item.get("type", "value_error"))
    if kind == "json_invalid":
        # FastAPI puts the character position where a field name would be.
        position = location[1] if len(location) > 1 else "?"
        cause = (item.get("ctx") or {}).get("error", "cannot be parsed")
        return {
            "field": "body",
            "reason": f"malformed JSON: {cause} (at character {position})",
            "type": kind,
            "loc": location,
        }
    return {
        "field": _field_of(location),
        "reason": str(item.get("msg", "invalid value")),
        "type": kind,
        "loc": location,
    }


def validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's validation errors as ``{field, reason, type, loc}``, without echoed input."""
    return [_problem(item) for item in error.errors()]


async def _on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = validation_errors(error)
    fields = ", ".join(sorted({item["field"] for item in errors})[:5])
    detail = f"invalid request: {len(errors)} problem(s) ({fields})"
    return _json(request, 422, {"detail": detail, "errors": errors})


async def _on_api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return _json(request, error.status_code, error.body, **error.headers)


def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    # The full reason (with the masked URL) goes to the log, not to the caller.
    logger.warning(
        "database unavailable",
        extra={"fields": {"request_id": request_id_of(request), "error": str(error)[:500]}},
    )
    body = {"detail": "the ledger database is unavailable; try again later"}
    return _json(request, 503, body, **{"Retry-After": "5"})


async def _on_payrisk_error(request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, StoreUnavailable | SchemaOutOfDate):
        return _database_unavailable(request, error)
    if isinstance(error, StoreError):
        return _json(request, 409, {"detail": str(error)})
    return _json(request, 422, {"detail": str(error)})


async def _on_database_error(request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError):
        return _database_unavailable(request, error)
    return await _on_unexpected(request, error)


async def _on_pool_timeout(request: Request, error: Exception) -> JSONResponse:
    # Every pooled connection stayed busy for db_pool_timeout_seconds: overload, not a bug.
    return _database_unavailable(request, error)


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    request_id = request_id_of(request)
    logger.error(
        "unhandled error",
        exc_info=(type(error), error, error.__traceback__),
        extra={"fields": {"request_id": request_id, "path": request.url.path}},
    )
    body = {"detail": "internal error; quote the request id when reporting it"}
    return _json(request, 500, {**body, "request_id": request_id})


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(PayriskError, _on_payrisk_error)
    app.add_exception_handler(sa.exc.DBAPIError, _on_database_error)
    app.add_exception_handler(sa.exc.TimeoutError, _on_pool_timeout)
    app.add_exception_handler(Exception, _on_unexpected)
