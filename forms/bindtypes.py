"""What a bind type accepts, and how a computed value is written for it.

``type_problem(bind_type, text)`` says why an answer is not a valid value of its
type (None when it is); ``as_text`` writes an expression's result as the
instance would hold it for a calculate of that type; ``same`` compares the
device's value of a calculate with the server's.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

from forms.xpath import parse_date
from forms.xpath.values import parse_time, str_to_num, to_date, to_str

__all__ = ["CHECKED_TYPES", "as_text", "same", "type_problem"]

_INT = re.compile(r"\s*[+-]?\d+\s*$")
INT_MIN, INT_MAX = -2**31, 2**31 - 1  # XForms int is xsd:int, as ODK Collect holds it
_DECIMAL = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")


def as_text(value, bind_type: str) -> str:
    """A calculate's result as the instance would hold it, for its bind type."""
    if type(value) is list:
        value = value[0].text() if value else ""
    if bind_type in ("date", "dateTime") and type(value) is not str:
        moment = to_date(value)
        if moment is None:
            return ""
        if bind_type == "date":
            return (moment.date() if isinstance(moment, datetime) else moment).isoformat()
        return to_str(moment)
    if type(value) is float:
        if value != value or math.isinf(value):
            return ""
        if bind_type == "int":
            return str(math.trunc(value))
    return to_str(value)


def same(device: str, server: str, tolerance: float = 1e-9) -> bool:
    a, b = device.strip(), server.strip()
    if a == b or {a, b} <= {"", "NaN"}:
        return True
    x, y = str_to_num(a), str_to_num(b)
    return x == x and y == y and math.isclose(x, y, rel_tol=tolerance, abs_tol=1e-9)


CHECKED_TYPES = frozenset({"int", "decimal", "date", "dateTime", "time", "geopoint",
                            "geotrace", "geoshape", "boolean"})


def type_problem(bind_type: str, text: str) -> str | None:
    """Why ``text`` is not a valid value of ``bind_type``, or None."""
    if bind_type == "int":
        if not _INT.match(text):
            return "is not a whole number"
        digits = text.strip().lstrip("+-").lstrip("0")
        if len(digits) > 10 or not INT_MIN <= int(text) <= INT_MAX:
            return f"is a whole number out of range ({INT_MIN} to {INT_MAX})"
        return None
    if bind_type == "decimal":
        return None if _DECIMAL.match(text) else "is not a decimal number"
    if bind_type == "date":
        ok = type(parse_date(text)) is date
        return None if ok else "is not a date (YYYY-MM-DD)"
    if bind_type == "dateTime":
        ok = type(parse_date(text)) is datetime
        return None if ok else "is not a date-time (YYYY-MM-DDTHH:MM:SS with offset)"
    if bind_type == "time":
        return None if parse_time(text) else "is not a time (HH:MM:SS)"
    if bind_type == "geopoint":
        return None if _geopoint(text) else "is not a geopoint ('lat lon [alt [accuracy]]')"
    if bind_type in ("geotrace", "geoshape"):
        points = [p for p in text.split(";") if p.strip()]
        ok = len(points) >= 2 and all(_geopoint(p) for p in points)
        return None if ok else f"is not a {bind_type} (geopoints separated by ';')"
    if bind_type == "boolean":
        return None if text.strip() in ("true", "false", "1", "0") else "is not true or false"
    return None


def _geopoint(text: str) -> bool:
    parts = text.split()
    if not 2 <= len(parts) <= 4 or not all(_DECIMAL.match(p) for p in parts):
        return False
    lat, lon = float(parts[0]), float(parts[1])
    return -90 <= lat <= 90 and -180 <= lon <= 180
