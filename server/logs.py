"""Structured logs: one JSON object per line on stderr, one line per request.

A streamed response (an export) is logged when its body is done, with the
bytes sent; a body that fails part-way is logged with status 500 and the
error, since that is what the client got: a cut answer, not the 200 its
headers announced.
"""

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
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "ms": 0.0,
            "user": user["name"] if user else None,
            "bytes_in": request.content_length or 0,
        }
        started = g.get("started", time.perf_counter())
        if response.is_streamed:
            response.response = _logged_stream(log, response.response, fields, started)
            return response
        fields["ms"] = round((time.perf_counter() - started) * 1000, 1)
        log.info("request", extra={"fields": fields})
        return response


def _logged_stream(log: logging.Logger, body, fields: dict, started: float):
    """Yield the body's chunks, then log the request as it really ended."""
    sent, failure = 0, None
    try:
        for chunk in body:
            sent += len(chunk)
            yield chunk
    except GeneratorExit:  # the server stopped sending: the client went away
        fields.update(status=499, error="the client closed the connection before the end")
        raise
    except Exception as exc:  # noqa: BLE001 - logged here; the server then cuts the answer
        failure = exc
        fields.update(status=500, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
        entry = {"fields": {**fields, "ms": _ms(started), "bytes_out": sent}}
        if failure is not None:
            log.error("request", exc_info=failure, extra=entry)
        else:
            log.info("request", extra=entry)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
