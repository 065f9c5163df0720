"""Reading query-string parameters the same way on every route."""

from __future__ import annotations

from flask import request

from server.errors import FieldsyncError


def int_arg(name: str, default: int, maximum: int | None = None) -> int:
    """A non-negative integer parameter, capped at ``maximum``; 400 when malformed."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        value = default
    elif raw.isdigit():
        value = int(raw)
    else:
        raise FieldsyncError("bad_request", f"'{name}' must be a non-negative integer.")
    return min(value, maximum) if maximum is not None else value
