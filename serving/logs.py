"""Structured logs: one JSON object per line on stderr, for every ``serving.*`` logger.

Fields beyond the message go in ``extra={"fields": {...}}``. Nothing here ever logs a
request's headers, so API keys cannot reach the log; callers log the key's *name*.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

SERVICE_LOGGER = "serving"


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time (UTC), level, logger, message, then its fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (test runners swap it between tests)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: str = "INFO") -> logging.Logger:
    """Send ``serving.*`` logs to stderr as JSON at ``level``; safe to call many times."""
    logger = logging.getLogger(SERVICE_LOGGER)
    if not any(isinstance(handler, _CurrentStderrHandler) for handler in logger.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level.upper())
    # Our own handler writes every line once; the root logger (uvicorn, a host app) must
    # not print it a second time in another format.
    logger.propagate = False
    return logger
