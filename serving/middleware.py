"""One ASGI middleware for every HTTP request: id, body limit, headers, metrics, access log.

* ``X-Request-ID``: taken from the request when it is a sane token, else generated, and
  echoed on the response.
* Body size: a ``Content-Length`` over the limit is refused at once (413); a body without
  one is read up to the limit and refused as soon as it passes it, before the app sees it.
* Security headers (``serving.security``) on every response, errors and 413s included.
* One Prometheus observation and one JSON log line per request, by route *template*
  (``/v1/customers/{customer_id}``), with the API key's name (never the key).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import REQUEST_ID_HEADER
from serving.metrics import UNMATCHED_ROUTE, ServiceMetrics
from serving.security import add_security_headers

access_logger = logging.getLogger("serving.access")

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


def _route_template(scope: Scope) -> str:
    # FastAPI leaves the matched APIRoute here; its path is the full template because our
    # routers carry their prefix themselves (APIRouter(prefix=...), not include_router).
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    content = json.dumps(body).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode("ascii")),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


class RequestContextMiddleware:
    """Request id, body size limit, security headers, metrics and the access log."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        response: dict[str, int] = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers.setdefault(REQUEST_ID_HEADER, request_id)
                add_security_headers(headers, str(scope.get("path", "")))
            await send(message)

        try:
            buffered = await self._read_body(scope, receive)
            if buffered is None:
                await _send_json(send_with_id, 413, self._too_large_body())
            else:
                await self.app(scope, buffered, send_with_id)
        finally:
            self._finish(scope, state, response["status"], time.perf_counter() - started)

    def _too_large_body(self) -> dict[str, Any]:
        return {
            "detail": f"request body larger than {self.max_body_bytes} bytes",
            "max_body_bytes": self.max_body_bytes,
        }

    async def _read_body(self, scope: Scope, receive: Receive) -> Receive | None:
        """A receive that replays the whole body, or None when it is over the limit."""
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away: let the app see the disconnect.
                return _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return _replay([body], receive)

    def _finish(
        self, scope: Scope, state: MutableMapping[str, Any], status: int, seconds: float
    ) -> None:
        route = _route_template(scope)
        method = str(scope.get("method", ""))
        self.metrics.observe_request(method, route, status, seconds)
        fields = {
            "request_id": state.get("request_id"),
            "method": method,
            "route": route,
            "path": scope.get("path"),
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "key_name": state.get("caller_name"),
        }
        access_logger.info("request", extra={"fields": fields})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that returns ``messages`` first, then defers to the real one."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
