"""Date functions: today, now, date, date-time, decimal-date-time, decimal-time,
format-date(-time).

``today()`` and ``now()`` read the evaluation's clock (``env.now``, an aware
datetime); only when none is given do they read the wall clock, in the
evaluation's time zone. ``today()`` is the calendar date at that moment in that
moment's own offset. Time-zone rules (``values``): a date alone is local
midnight, a date-time keeps its offset; ``decimal-time`` gives the fraction of
the local day, as the specification asks of a tablet's time zone.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from forms.xpath.values import (NAN, date_to_days, evaluation_timezone, local, parse_time,
                                to_date, to_num, to_str)

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
# date('1970-1-2'): a month or day written with one digit is read as 01 / 02
_UNPADDED = re.compile(r"\s*(-?\d{4,})-(\d\d?)-(\d\d?)(?=$|[T ]|\s)")


def clock(ctx) -> datetime:
    now = ctx.env.now
    return now if now is not None else datetime.now(evaluation_timezone())


def f_today(ctx):
    return clock(ctx).date()


def f_now(ctx):
    return clock(ctx)


def _padded(text: str) -> str:
    m = _UNPADDED.match(text)
    if m is None:
        return text
    return f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}{text[m.end():]}"


def _moment(value):
    """date()'s argument as a date or date-time; None when it is not one."""
    if type(value) is list:
        value = value[0].text() if value else ""
    if type(value) is bool:
        return None
    if type(value) is str:
        value = _padded(value)
    return to_date(value)


def f_date(ctx, value):
    """date(x): the calendar date x stands for (a date-time's own date; a number
    of days since 1970-01-01, its fraction dropped); "" when x is no date."""
    if type(value) in (float, int):
        days = to_num(value)
        if days != days or days in (float("inf"), float("-inf")):
            return ""
        value = float(int(days))
    moment = _moment(value)
    if moment is None:
        return ""
    return moment.date() if type(moment) is datetime else moment


def f_date_time(ctx, value):
    """date-time(x): x as a date-time (a number of days keeps its fraction)."""
    moment = _moment(value)
    return "" if moment is None else moment


def f_decimal_date_time(ctx, value):
    if type(value) in (float, int):
        return float(value)
    moment = _moment(value)
    return date_to_days(moment) if moment is not None else NAN


def f_decimal_time(ctx, value):
    """The fraction of the local day a time stands for (noon: 0.5); NaN for
    anything that is not a time of day."""
    parsed = parse_time(to_str(value))
    if parsed is None:
        return NAN
    if parsed.tzinfo is not None:
        anchor = datetime.combine(date(1970, 1, 1), parsed)
        parsed = anchor.astimezone(evaluation_timezone()).time()
    seconds = parsed.hour * 3600 + parsed.minute * 60 + parsed.second + parsed.microsecond / 1e6
    return seconds / 86400.0


def format_moment(value, pattern: str) -> str:
    """ODK's format-date: %Y %y %m %n %b %d %e %a, and with time %H %h %M %S %3.

    A date-time is shown in its own offset (the tablet's, which wrote it)."""
    moment = _moment(value)
    if moment is None:
        return ""
    if type(moment) is datetime:
        moment = local(moment)
    else:
        moment = datetime.combine(moment, time())
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch != "%" or i + 1 == len(pattern):
            out.append(ch)
            i += 1
            continue
        out.append(_field(moment, pattern[i + 1]))
        i += 2
    return "".join(out)


def _field(moment: datetime, code: str) -> str:
    fields = {
        "Y": lambda m: f"{m.year:04d}",
        "y": lambda m: f"{m.year % 100:02d}",
        "m": lambda m: f"{m.month:02d}",
        "n": lambda m: str(m.month),
        "b": lambda m: MONTHS[m.month - 1],
        "d": lambda m: f"{m.day:02d}",
        "e": lambda m: str(m.day),
        "a": lambda m: DAYS[m.weekday()],
        "H": lambda m: f"{m.hour:02d}",
        "h": lambda m: str(m.hour),
        "M": lambda m: f"{m.minute:02d}",
        "S": lambda m: f"{m.second:02d}",
        "3": lambda m: f"{m.microsecond // 1000:03d}",
        "%": lambda m: "%",
    }
    fn = fields.get(code)
    return fn(moment) if fn is not None else "%" + code


FUNCTIONS = {
    "today": (f_today, 0, 0),
    "now": (f_now, 0, 0),
    "date": (f_date, 1, 1),
    "date-time": (f_date_time, 1, 1),
    "decimal-date-time": (f_decimal_date_time, 1, 1),
    "decimal-time": (f_decimal_time, 1, 1),
    "format-date": (lambda ctx, v, p: format_moment(v, to_str(p)), 2, 2),
    "format-date-time": (lambda ctx, v, p: format_moment(v, to_str(p)), 2, 2),
}
