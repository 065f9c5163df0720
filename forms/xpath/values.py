"""XPath values and the conversions between them, with ODK's rules for dates.

A value is a ``str``, a ``float``, a ``bool``, a node-set (a ``list`` of nodes in
document order), or a date (``datetime.date``) or date-time (an aware
``datetime.datetime``). ODK rules on top of XPath 1.0:

- an empty string is NaN as a number (so an empty answer is NaN in arithmetic);
- a string that is an ISO date or date-time is, as a number, the days since
  1970-01-01T00:00Z (fractional), and so is a date;
- dates compare as numbers.

Time zones (the ODK XForms rules): a date without a time stands for local
midnight, a date-time without an offset for local time, and a date-time with
an offset keeps it. "Local" is the evaluation's time zone, ``evaluation_timezone()``:
the server sets it once (``set_evaluation_timezone``, from its setting) where a
tablet would use its own; it is UTC unless set, and then a date is a whole
number of days.
"""

from __future__ import annotations

import math
import re
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache

NAN = float("nan")
EPOCH = date(1970, 1, 1)
EPOCH_DT = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NUMBER = re.compile(r"[ \t\r\n]*-?(?:\d+(?:\.\d*)?|\.\d+)[ \t\r\n]*$")
_DATE = re.compile(r"\s*(-?\d{4,})-(\d\d)-(\d\d)\s*$")
_DATETIME = re.compile(
    r"\s*(-?\d{4,})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?"
    r"(Z|[+-]\d\d(?::?\d\d)?)?\s*$"
)
_TIME = re.compile(r"\s*(\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(Z|[+-]\d\d(?::?\d\d)?)?\s*$")
_UTC = timezone.utc
_TZ: ContextVar[tzinfo] = ContextVar("fieldsync_evaluation_timezone", default=_UTC)


def evaluation_timezone() -> tzinfo:
    """The time zone that dates without a time, and times without an offset, are in."""
    return _TZ.get()


def set_evaluation_timezone(tz: tzinfo | None):
    """Evaluate in ``tz`` (None: UTC) from now on in this thread; returns the
    token ``reset_evaluation_timezone`` takes to put the previous zone back."""
    return _TZ.set(tz or _UTC)


def reset_evaluation_timezone(token) -> None:
    _TZ.reset(token)


def timezone_named(text: str) -> tzinfo:
    """'UTC', a fixed offset ('+03:00', '-0530') or an IANA zone ('Africa/Dakar');
    ValueError naming what to write otherwise."""
    text = (text or "").strip()
    if text.upper() in ("", "UTC", "Z"):
        return _UTC
    if re.fullmatch(r"[+-]\d\d(?::?\d\d)?", text):
        return parse_offset(text)
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{text}' is not a time zone: write UTC, an offset such as "
                         "+03:00, or a zone name such as Africa/Dakar") from None


def local(moment: datetime) -> datetime:
    """A date-time with its offset: a naive one is local time in the evaluation's zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_TZ.get())


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
    value = local(value)
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
def _text_value(text: str):
    """What a text means as a number: a float, a date or date-time, or None (NaN)."""
    if _NUMBER.match(text):
        return float(text)
    return parse_date(text)


def str_to_num(text: str) -> float:
    value = _text_value(text)
    if type(value) is float:
        return value
    return NAN if value is None else date_to_days(value)


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
    """An ISO date -> ``date``, an ISO date-time -> ``datetime`` (aware when it has
    an offset, naive for local time), else None."""
    m = _DATE.match(text)
    try:
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        m = _DATETIME.match(text)
        if m:
            frac = (m[7] or "0")[:6].ljust(6, "0")
            return datetime(
                int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0),
                int(frac), tzinfo=parse_offset(m[8]) if m[8] else None,
            )
    except (ValueError, OverflowError):
        return None
    return None


def parse_time(text: str):
    m = _TIME.match(text)
    if not m:
        return None
    try:
        frac = (m[4] or "0")[:6].ljust(6, "0")
        return time(int(m[1]), int(m[2]), int(m[3] or 0), int(frac),
                    tzinfo=parse_offset(m[5]) if m[5] else None)
    except ValueError:
        return None


@lru_cache(maxsize=256)
def parse_offset(text: str | None):
    """'Z', '+02', '+0530' or '-07:00' as a fixed zone; ValueError for an offset
    no clock has (minutes past 59, hours past 23)."""
    if not text or text == "Z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"the offset '{text}' is not a time-zone offset")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def date_to_days(value) -> float:
    """Days since 1970-01-01T00:00Z: a date counts from its local midnight."""
    tz = _TZ.get()
    if type(value) is datetime:
        moment = value if value.tzinfo is not None else value.replace(tzinfo=tz)
        return (moment - EPOCH_DT).total_seconds() / 86400.0
    days = float((value - EPOCH).days)
    if tz is _UTC:
        return days
    midnight = datetime(value.year, value.month, value.day, tzinfo=tz)
    return days - midnight.utcoffset().total_seconds() / 86400.0


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
        return (EPOCH_DT + timedelta(days=number)).astimezone(_TZ.get())
    except (OverflowError, ValueError):
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
