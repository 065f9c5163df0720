"""Reading parameters and request bodies the same way on every door: query-string
integers and thresholds, request bodies within the size limit, JSON bodies, and
form ids and versions in paths (``<name:form_id>``)."""

from __future__ import annotations

import base64
import binascii

from flask import current_app, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from server.errors import FieldsyncError
from sync.protocol import json_problem

MAX_INTEGER = 2**63 - 1  # the largest integer SQLite holds (seqs, ids, limits)


class NameConverter(BaseConverter):
    """A form_id or version in a URL path, whatever its text.

    Most names travel as themselves, percent-quoted (``Spec%20test``). One that
    a path segment cannot carry (it holds '/' or '\\', is '.' or '..', or starts
    with '~') travels as '~' and its URL-safe base64, which this converter reads
    back; a client follows the URLs the server gives it (form list, manifest)
    and never needs to build one."""

    def to_python(self, value: str) -> str:
        if value.startswith("~"):
            try:
                return base64.urlsafe_b64decode(value[1:] + "=" * (-len(value[1:]) % 4)
                                                ).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return value
        return value

    def to_url(self, value) -> str:
        text = str(value)
        if "/" in text or "\\" in text or text in (".", "..") or text.startswith("~"):
            text = "~" + base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")
        return super().to_url(text)


def int_arg(name: str, default: int, maximum: int | None = None) -> int:
    """A non-negative integer parameter, capped at ``maximum``; 400 when malformed
    or beyond any value the store can hold."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        value = default
    elif raw.isdigit() and raw.isascii():
        value = int(raw) if len(raw) <= 19 else MAX_INTEGER + 1
        if value > MAX_INTEGER and maximum is None:
            raise FieldsyncError("bad_request", f"'{name}' is larger than any value the "
                                 f"server holds (at most {MAX_INTEGER}).")
    else:
        raise FieldsyncError("bad_request", f"'{name}' must be a non-negative integer.")
    return min(value, maximum) if maximum is not None else value


def body_limit() -> int:
    """The largest request body the server reads, in bytes (0: no limit)."""
    return int(current_app.config.get("MAX_CONTENT_LENGTH") or 0)


def body_bytes() -> bytes:
    """The request body, whether sent with Content-Length or chunked; 413 past
    the server's limit either way. (Werkzeug reads a chunked body as empty
    unless the WSGI server marks its input terminated, which gunicorn does not;
    gunicorn does decode the chunks, so the raw input is read here, bounded.)"""
    limit = body_limit()
    if request.content_length is not None or "chunked" not in request.headers.get(
            "Transfer-Encoding", "").lower():
        return request.get_data(cache=False)
    stream = request.environ["wsgi.input"]
    if not limit:
        return stream.read()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise RequestEntityTooLarge()
    return data


def threshold_arg() -> float | None:
    """``?threshold=0.6``: a score between 0 and 1, or None when not given."""
    raw = request.args.get("threshold")
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:
        raise FieldsyncError("bad_request", "'threshold' is a score between 0 and 1, "
                             "e.g. threshold=0.6.")
    return value


def json_body():
    """The request's JSON body, or None when it has none or it is not JSON (the
    caller says what to send)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def load_json(schema: Schema) -> dict:
    """Parse and validate a JSON body, or refuse with what to fix."""
    data = json_body()
    if data is None:
        raise FieldsyncError("json_invalid", "Send a JSON object body with Content-Type "
                             "application/json.")
    problem = json_problem(data)
    if problem:
        raise FieldsyncError("json_invalid", f"The body's JSON cannot be stored: {problem}. "
                             "Send text as UTF-8 (or paired escapes).", {"problem": problem})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise FieldsyncError("validation_failed", "The request body is invalid: fix the "
                             "fields listed in details.", {"fields": exc.messages}) from None
