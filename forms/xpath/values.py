"""XPath values and the conversions between them, with ODK's rules for dates.

A value is a ``str``, a ``float``, a ``bool``, a node-set (a ``list`` of nodes in
document order), or a date (``datetime.date``) or date-time (an aware
``datetime.datetime``). ODK rules on top of XPath 1.0:

- an empty string is NaN as a number (so an empty answer is NaN in arithmetic);
- a string that is an ISO date or date-time is, as a number, the days since
  1970-01-01 (fractional for a date-time, counted in UTC), and so is a date;
- dates compare as numbers.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

NAN = float("nan")
EPOCH = date(1970, 1, 1)
EPOCH_DT = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NUMBER = re.compile(r"\s*-?(?:\d+(?:\.\d*)?|\.\d+)\s*$")
_DATE = re.compile(r"\s*(-?\d{4,})-(\d\d)-(\d\d)\s*$")
_DATETIME = re.compile(
    r"\s*(-?\d{4,})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?"
    r"(Z|[+-]\d\d(?::?\d\d)?)?\s*$"
)
_TIME = re.compile(r"\s*(\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(Z|[+-]\d\d(?::?\d\d)?)?\s*$")


def to_str(value) -> str:
    kind = type(value)
    if kind is str:
        return value
    if kind is list:
        return value[0].text() if value else ""
    if kind is float:
        return format_number(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is datetime:
        return format_datetime(value)
    if kind is date:
        return value.isoformat()
    if kind is int:
        return str(value)
    return "" if value is None else str(value)


def format_number(x: float) -> str:
    if x != x:
        return "NaN"
    if x in (math.inf, -math.inf):
        return "Infinity" if x > 0 else "-Infinity"
    if x == int(x) and abs(x) < 1e18:
        return str(int(x))
    text = repr(x)
    if "e" in text:
        text = f"{x:.20f}".rstrip("0").rstrip(".")
    return text


def format_datetime(value: datetime) -> str:
    ms = value.microsecond // 1000
    text = value.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}"
    offset = value.utcoffset()
    if offset is None:
        return text
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def to_num(value) -> float:
    kind = type(value)
    if kind is float:
        return value
    if kind is str:
        return str_to_num(value)
    if kind is bool:
        return 1.0 if value else 0.0
    if kind is list:
        return str_to_num(value[0].text()) if value else NAN
    if kind is int:
        return float(value)
    if kind is date or kind is datetime:
        return date_to_days(value)
    return NAN


# A record's dates and numbers recur across records (interview days, ages,
# codes): what a text means is parsed once, up to a bound. The results are
# immutable (float, date, datetime, timezone).
_PARSED = 8192


@lru_cache(maxsize=_PARSED)
def str_to_num(text: str) -> float:
    if _NUMBER.match(text):
        return float(text)
    parsed = parse_date(text)
    return date_to_days(parsed) if parsed is not None else NAN


def to_bool(value) -> bool:
    kind = type(value)
    if kind is bool:
        return value
    if kind is str or kind is list:
        return len(value) > 0
    if kind is float:
        return value == value and value != 0
    return value is not None


@lru_cache(maxsize=_PARSED)
def parse_date(text: str):
    """An ISO date -> ``date``, an ISO date-time -> aware ``datetime``, else None."""
    m = _DATE.match(text)
    try:
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        m = _DATETIME.match(text)
        if m:
            frac = (m[7] or "0")[:6].ljust(6, "0")
            return datetime(
                int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0),
                int(frac), tzinfo=parse_offset(m[8]),
            )
    except ValueError:
        return None
    return None


def parse_time(text: str):
    m = _TIME.match(text)
    if not m:
        return None
    try:
        frac = (m[4] or "0")[:6].ljust(6, "0")
        return time(int(m[1]), int(m[2]), int(m[3] or 0), int(frac), tzinfo=parse_offset(m[5]))
    except ValueError:
        return None


@lru_cache(maxsize=256)
def parse_offset(text: str | None):
    if not text or text == "Z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))


def date_to_days(value) -> float:
    if type(value) is datetime:
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return (moment - EPOCH_DT).total_seconds() / 86400.0
    return float((value - EPOCH).days)


def to_date(value):
    """A value as a date or date-time, or None when it is empty or not a date."""
    kind = type(value)
    if kind is date or kind is datetime:
        return value
    if kind is list:
        value = value[0].text() if value else ""
        kind = str
    if kind is str:
        parsed = parse_date(value)
        if parsed is not None or not _NUMBER.match(value):
            return parsed
        value = float(value)
    number = to_num(value)
    if number != number or number in (math.inf, -math.inf):
        return None
    try:
        if number == int(number):
            return EPOCH + timedelta(days=int(number))
        return EPOCH_DT + timedelta(days=number)
    except OverflowError:
        return None


def equal(a, b, op: str) -> bool:
    """``=`` / ``!=`` between two values that are not node-sets (XPath 1.0 3.4)."""
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        result = to_bool(a) == to_bool(b)
    elif ta in _NUMERIC or tb in _NUMERIC:
        result = to_num(a) == to_num(b)
    else:
        result = to_str(a) == to_str(b)
    return result if op == "=" else not result


_NUMERIC = {float, date, datetime, int}


def relate(a: float, b: float, op: str) -> bool:
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def compare(a, b, op: str) -> bool:
    """Any XPath comparison, node-sets included (some pair of nodes satisfies it)."""
    a_set, b_set = type(a) is list, type(b) is list
    if a_set or b_set:
        if a_set and b_set:
            if op in ("=", "!="):
                right = {n.text() for n in b}
                if op == "=":
                    return any(n.text() in right for n in a)
                return any(n.text() != r for n in a for r in right)
            right = [str_to_num(n.text()) for n in b]
            return any(relate(str_to_num(n.text()), r, op) for n in a for r in right)
        nodes, other = (a, b) if a_set else (b, a)
        if type(other) is bool:
            return _bool_compare(to_bool(a), to_bool(b), op)
        if type(other) is str and (op == "=" or op == "!="):
            # the common ``/data/x = 'yes'``: string against string, either side
            if op == "=":
                return any(n.text() == other for n in nodes)
            return any(n.text() != other for n in nodes)
        flip = not a_set
        return any(
            _compare_scalar(n.text(), other, op) if not flip else _compare_scalar(other, n.text(), op)
            for n in nodes
        )
    return _compare_scalar(a, b, op)


def _compare_scalar(a, b, op):
    if op == "=" or op == "!=":
        return equal(a, b, op)
    return relate(to_num(a), to_num(b), op)


def _bool_compare(a: bool, b: bool, op: str) -> bool:
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    return relate(float(a), float(b), op)
