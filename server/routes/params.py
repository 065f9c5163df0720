"""Reading parameters the same way on every route: query-string integers, and
form ids and versions in paths (``<name:form_id>``)."""

from __future__ import annotations

import base64
import binascii

from flask import request
from werkzeug.routing import BaseConverter

from server.errors import FieldsyncError


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
    """A non-negative integer parameter, capped at ``maximum``; 400 when malformed."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        value = default
    elif raw.isdigit():
        value = int(raw)
    else:
        raise FieldsyncError("bad_request", f"'{name}' must be a non-negative integer.")
    return min(value, maximum) if maximum is not None else value
