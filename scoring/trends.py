"""Reintegration trends: n, mean, median and a 95% confidence interval per group.

Pure functions over rows (dicts), no SQL; the server feeds them rows it selected.
A row carries ``country_of_return``, ``interview_date``, ``return_date``,
``survey_round`` and its scores, either under ``"scores"`` or as top-level keys.

Groupings (``by``): ``country`` / ``country_of_return``, ``quarter`` (of the
interview date, ``2026-Q1``), ``round`` / ``survey_round``, ``months_since_return``
(whole months from return to interview, in bands ``0-5``, ``6-11``, ``12-17``,
``18-23``, ``24+``) and ``year``.

The 95% interval is mean +/- t(0.975, n-1) * sd / sqrt(n) with Student's t read
from a table for 1..30 degrees of freedom (and 40, 60, 120, interpolated in 1/df),
and the normal quantile 1.959964 beyond 120. It is ``None`` for n < 2.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from datetime import date, datetime

SCORES = ("economic", "social", "psychosocial", "composite")
MONTH_BANDS = (0, 6, 12, 18, 24)
ALIASES = {"country": "country_of_return", "round": "survey_round"}
GROUPINGS = ("country_of_return", "quarter", "survey_round", "months_since_return", "year")

# t(0.975, df) for df = 1..30, then 40, 60, 120.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)
_T975_TAIL = ((30, 2.042), (40, 2.021), (60, 2.000), (120, 1.980))
_Z975 = statistics.NormalDist().inv_cdf(0.975)


def t975(df: int) -> float:
    """Two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("degrees of freedom must be >= 1")
    if df <= 30:
        return _T975[df - 1]
    if df > 120:
        return _Z975
    for (lo_df, lo_t), (hi_df, hi_t) in zip(_T975_TAIL, _T975_TAIL[1:]):
        if df <= hi_df:
            frac = (1 / lo_df - 1 / df) / (1 / lo_df - 1 / hi_df)
            return lo_t + frac * (hi_t - lo_t)
    return _Z975


def describe(values: list[float], threshold: float | None = None) -> dict:
    """``{"n", "mean", "median", "ci95": [low, high] | None}`` of a list of numbers;
    with a ``threshold``, also ``at_or_above``: the share of values >= it."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "median": None, "ci95": None,
                **({"at_or_above": None} if threshold is not None else {})}
    mean = statistics.fmean(values)
    ci = None
    if n >= 2:
        half = t975(n - 1) * statistics.stdev(values, mean) / math.sqrt(n)
        ci = [round(mean - half, 6), round(mean + half, 6)]
    out = {"n": n, "mean": round(mean, 6), "median": round(statistics.median(values), 6),
           "ci95": ci}
    if threshold is not None:
        out["at_or_above"] = round(sum(v >= threshold for v in values) / n, 6)
    return out


def summarise(
    rows: Iterable[dict],
    by: Iterable[str] = ("country_of_return",),
    scores: Iterable[str] = SCORES,
    threshold: float | None = None,
) -> list[dict]:
    """Group rows and describe each score (with ``threshold``: the share of each
    score at or above it, see ``describe``).

    Returns ``[{"group": {grouping: value}, "n": rows in group, "scores": {score:
    {"n", "mean", "median", "ci95"}}}]`` sorted by group; a row whose grouping value
    cannot be worked out (no date, say) goes to the group value ``None``. Rows
    without a score (not scored, e.g. no consent) do not count towards that score.
    """
    keys = [ALIASES.get(k, k) for k in by]
    for key in keys:
        if key not in GROUPINGS:
            raise ValueError(
                f"unknown grouping '{key}'; use one of {', '.join(GROUPINGS)}, country, round"
            )
    scores = tuple(scores)
    groups: dict[tuple, dict] = {}
    for row in rows:
        group = tuple(_group_value(row, k) for k in keys)
        entry = groups.setdefault(group, {"n": 0, "values": {s: [] for s in scores}})
        entry["n"] += 1
        row_scores = row.get("scores") if isinstance(row.get("scores"), dict) else row
        for s in scores:
            value = row_scores.get(s)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                entry["values"][s].append(float(value))
    out = []
    for group in sorted(groups, key=lambda g: tuple((v is None, str(v)) for v in g)):
        entry = groups[group]
        out.append({
            "group": dict(zip(keys, group)),
            "n": entry["n"],
            "scores": {s: describe(entry["values"][s], threshold) for s in scores},
        })
    return out


def _field(row: dict, name: str):
    value = row.get(name)
    if value is None and isinstance(row.get("data"), dict):
        value = row["data"].get(name)
    return value


def _date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end`` (negative if ``end`` is earlier)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return months


def months_band(months: int | None) -> str | None:
    if months is None or months < 0:
        return None
    for lo, hi in zip(MONTH_BANDS, MONTH_BANDS[1:]):
        if lo <= months < hi:
            return f"{lo}-{hi - 1}"
    return f"{MONTH_BANDS[-1]}+"


def _group_value(row: dict, key: str):
    if key in ("country_of_return", "survey_round"):
        value = _field(row, key)
        return str(value) if value not in (None, "") else None
    interview = _date(_field(row, "interview_date"))
    if key == "quarter":
        return f"{interview.year}-Q{(interview.month - 1) // 3 + 1}" if interview else None
    if key == "year":
        return str(interview.year) if interview else None
    returned = _date(_field(row, "return_date"))
    if interview is None or returned is None:
        return None
    return months_band(months_between(returned, interview))
