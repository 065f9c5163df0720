"""Date functions: today, now, date, decimal-date-time, decimal-time, format-date(-time).

``today()`` and ``now()`` read the evaluation's clock (``env.now``, an aware
datetime); only when none is given do they read the wall clock. ``today()`` is
the calendar date at that moment in that moment's own offset.
"""

from __future__ import annotations

from datetime import datetime, timezone

from forms.xpath.values import NAN, date_to_days, parse_time, to_date, to_str

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def clock(ctx) -> datetime:
    now = ctx.env.now
    return now if now is not None else datetime.now(timezone.utc).astimezone()


def f_today(ctx):
    return clock(ctx).date()


def f_now(ctx):
    return clock(ctx)


def f_date(ctx, value):
    parsed = to_date(value)
    if parsed is None:
        return ""
    return parsed


def f_decimal_date_time(ctx, value):
    parsed = to_date(value)
    return date_to_days(parsed) if parsed is not None else NAN


def f_decimal_time(ctx, value):
    parsed = parse_time(to_str(value))
    if parsed is None:
        return NAN
    seconds = parsed.hour * 3600 + parsed.minute * 60 + parsed.second + parsed.microsecond / 1e6
    offset = parsed.utcoffset()
    if offset is not None:
        seconds -= offset.total_seconds()
    return (seconds % 86400) / 86400.0


def format_moment(value, pattern: str) -> str:
    """ODK's format-date: %Y %y %m %n %b %d %e %a, and with time %H %h %M %S %3."""
    moment = to_date(value)
    if moment is None:
        return ""
    has_clock = type(moment) is datetime
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch != "%" or i + 1 == len(pattern):
            out.append(ch)
            i += 1
            continue
        code = pattern[i + 1]
        i += 2
        out.append(_field(moment, code, has_clock))
    return "".join(out)


def _field(moment, code: str, clock_ok: bool) -> str:
    if code == "Y":
        return f"{moment.year:04d}"
    if code == "y":
        return f"{moment.year % 100:02d}"
    if code == "m":
        return f"{moment.month:02d}"
    if code == "n":
        return str(moment.month)
    if code == "b":
        return MONTHS[moment.month - 1]
    if code == "d":
        return f"{moment.day:02d}"
    if code == "e":
        return str(moment.day)
    if code == "a":
        return DAYS[moment.weekday()]
    if code == "%":
        return "%"
    if code in "HhMS3":
        if not clock_ok:
            return "00" if code in "HMS" else ("000" if code == "3" else "0")
        return {
            "H": f"{moment.hour:02d}",
            "h": str(moment.hour),
            "M": f"{moment.minute:02d}",
            "S": f"{moment.second:02d}",
            "3": f"{moment.microsecond // 1000:03d}",
        }[code]
    return "%" + code


FUNCTIONS = {
    "today": (f_today, 0, 0),
    "now": (f_now, 0, 0),
    "date": (f_date, 1, 1),
    "date-time": (f_date, 1, 1),
    "decimal-date-time": (f_decimal_date_time, 1, 1),
    "decimal-time": (f_decimal_time, 1, 1),
    "format-date": (lambda ctx, v, p: format_moment(v, to_str(p)), 2, 2),
    "format-date-time": (lambda ctx, v, p: format_moment(v, to_str(p)), 2, 2),
}
