"""Structured logs: one JSON object per line on stderr, one line per request."""

from __future__ import annotations

import json
import logging
import sys
import time

from flask import Flask, g, request


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "INFO") -> None:
    logger = logging.getLogger("fieldsync")
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def install_request_log(app: Flask) -> None:
    log = logging.getLogger("fieldsync.http")

    @app.before_request
    def _start():
        g.started = time.perf_counter()

    @app.after_request
    def _done(response):
        user = g.get("user")
        log.info(
            "request",
            extra={"fields": {
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1),
                "user": user["name"] if user else None,
                "bytes_in": request.content_length or 0,
            }},
        )
        return response
