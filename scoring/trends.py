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

Over time, per person (rows then also carry ``person``, the normalised case id,
and ``order``, which of a person's records of one round came first):

- ``trajectories``: each person's scores round by round;
- ``paired_changes``: the change of each score between two rounds among the
  people seen in both (a paired difference: its mean, 95% interval and n), by
  country, sex and months since return, and the share whose composite rose,
  fell or stayed within a tolerance. A person missing either round is left out
  (and counted); a person with two records of one round counts with the first
  (the later one is a repeat of that interview).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from datetime import date, datetime

SCORES = ("economic", "social", "psychosocial", "composite")
MONTH_BANDS = (0, 6, 12, 18, 24)
ALIASES = {"country": "country_of_return", "round": "survey_round"}
PAIRED_GROUPINGS = ("country_of_return", "sex", "months_since_return")
DEFAULT_TOLERANCE = 0.05  # a composite moving less than this "stayed"
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
        # The sample standard deviation in floats, summed exactly (fsum): the same
        # value as statistics.stdev to the printed digits, without its rationals,
        # which cost seconds a million records.
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
        half = t975(n - 1) * sd / math.sqrt(n)
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
    needed = tuple(dict.fromkeys(f for k in keys for f in _GROUP_FIELDS[k]))
    known: dict[tuple, tuple] = {}  # the fields' values -> their group: dates repeat
    groups: dict[tuple, dict] = {}
    for row in rows:
        raw = tuple(_field(row, f) for f in needed)
        group = known.get(raw)
        if group is None:
            if len(known) >= _KNOWN_GROUPS:
                known.clear()
            group = known[raw] = tuple(_group_value(row, k) for k in keys)
        entry = groups.get(group)
        if entry is None:
            entry = groups[group] = {"n": 0, "values": {s: [] for s in scores}}
        entry["n"] += 1
        row_scores = row.get("scores") if isinstance(row.get("scores"), dict) else row
        values = entry["values"]
        for s in scores:
            value = row_scores.get(s)
            if value.__class__ is float or value.__class__ is int:  # not bool, not text
                values[s].append(float(value))
    out = []
    for group in sorted(groups, key=lambda g: tuple((v is None, str(v)) for v in g)):
        entry = groups[group]
        out.append({
            "group": dict(zip(keys, group)),
            "n": entry["n"],
            "scores": {s: describe(entry["values"][s], threshold) for s in scores},
        })
    return out


# The fields each grouping is worked out from.
_GROUP_FIELDS = {"country_of_return": ("country_of_return",), "survey_round": ("survey_round",),
                 "quarter": ("interview_date",), "year": ("interview_date",),
                 "months_since_return": ("interview_date", "return_date")}
_KNOWN_GROUPS = 100_000  # field values remembered with their group, at most


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


def _firsts(rows: Iterable[dict], rounds: set[str] | None = None) -> tuple[dict, int]:
    """``{(person, round): row}`` keeping each person's first record of a round,
    and how many later repeats were left out."""
    firsts: dict[tuple, dict] = {}
    repeats = 0
    for row in rows:
        person, rnd = row.get("person"), _field(row, "survey_round")
        if not person or not rnd or (rounds is not None and rnd not in rounds):
            continue
        key = (person, rnd)
        held = firsts.get(key)
        if held is None:
            firsts[key] = row
            continue
        repeats += 1
        if (_date(_field(row, "interview_date")) or date.max, row.get("order", 0)) < (
                _date(_field(held, "interview_date")) or date.max, held.get("order", 0)):
            firsts[key] = row
    return firsts, repeats


def trajectories(rows: Iterable[dict], round_order: list[str],
                 scores: Iterable[str] = SCORES) -> list[dict]:
    """Each person's rounds in ``round_order``: ``[{"person", "rounds": [{"round",
    "interview_date", "instance_id", "scores"}]}]`` sorted by person."""
    scores = tuple(scores)
    firsts, _ = _firsts(rows)
    rank = {r: i for i, r in enumerate(round_order)}
    people: dict[str, list] = {}
    for (person, rnd), row in firsts.items():
        row_scores = row.get("scores") if isinstance(row.get("scores"), dict) else row
        people.setdefault(person, []).append({
            "round": rnd, "interview_date": _field(row, "interview_date"),
            "instance_id": row.get("instance_id"),
            "scores": {s: row_scores.get(s) for s in scores}})
    return [{"person": p, "rounds": sorted(items, key=lambda i: (rank.get(i["round"], 99),
                                                                   str(i["interview_date"])))}
            for p, items in sorted(people.items())]


def paired_changes(rows: Iterable[dict], from_round: str, to_round: str,
                   by: Iterable[str] = (), scores: Iterable[str] = SCORES,
                   tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """The change of each score from ``from_round`` to ``to_round`` among the
    people seen in both.

    Returns ``{"from", "to", "by", "tolerance", "n", "left_out": {"missing_round",
    "repeated_round"}, "groups": [{"group", "n", "scores": {score: {"n",
    "mean_change", "median_change", "ci95", "from_mean", "to_mean"}}, "composite":
    {"rose", "fell", "stayed": {"n", "share"}}}]}``. A pair is grouped by the later
    record's country, sex and months from return to its interview (each falling
    back to the earlier record's when the later lacks it)."""
    keys = [ALIASES.get(k, k) for k in by]
    for key in keys:
        if key not in PAIRED_GROUPINGS:
            raise ValueError(f"unknown grouping '{key}'; use one of "
                             f"{', '.join(PAIRED_GROUPINGS)}, country")
    scores = tuple(scores)
    firsts, repeats = _firsts(rows, {from_round, to_round})
    people = {p for p, _ in firsts}
    groups: dict[tuple, dict] = {}
    missing = 0
    for person in sorted(people):
        before, after = firsts.get((person, from_round)), firsts.get((person, to_round))
        if before is None or after is None:
            missing += 1
            continue
        group = tuple(_pair_group(before, after, k) for k in keys)
        entry = groups.setdefault(group, {"n": 0, "pairs": {s: [] for s in scores}})
        entry["n"] += 1
        for s in scores:
            a, b = _score(before, s), _score(after, s)
            if a is not None and b is not None:
                entry["pairs"][s].append((a, b))
    out = []
    for group in sorted(groups, key=lambda g: tuple((v is None, str(v)) for v in g)):
        entry = groups[group]
        out.append({"group": dict(zip(keys, group)), "n": entry["n"],
                    "scores": {s: _change(entry["pairs"][s]) for s in scores},
                    "composite": _directions(entry["pairs"].get("composite", []), tolerance)})
    return {"from": from_round, "to": to_round, "by": keys, "tolerance": tolerance,
            "n": sum(g["n"] for g in out),
            "left_out": {"missing_round": missing, "repeated_round": repeats},
            "groups": out}


def _score(row: dict, name: str) -> float | None:
    row_scores = row.get("scores") if isinstance(row.get("scores"), dict) else row
    value = row_scores.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _change(pairs: list[tuple[float, float]]) -> dict:
    diffs = describe([b - a for a, b in pairs])
    return {"n": diffs["n"], "mean_change": diffs["mean"], "median_change": diffs["median"],
            "ci95": diffs["ci95"],
            "from_mean": round(statistics.fmean(a for a, _ in pairs), 6) if pairs else None,
            "to_mean": round(statistics.fmean(b for _, b in pairs), 6) if pairs else None}


def _directions(pairs: list[tuple[float, float]], tolerance: float) -> dict:
    counts = {"rose": 0, "fell": 0, "stayed": 0}
    for a, b in pairs:
        diff = round(b - a, 9)  # 0.75 - 0.7 is 0.05000000000000004: not a rise of 0.05
        counts["rose" if diff > tolerance else "fell" if diff < -tolerance else "stayed"] += 1
    n = len(pairs)
    return {k: {"n": v, "share": round(v / n, 6) if n else None} for k, v in counts.items()}


def _pair_group(before: dict, after: dict, key: str):
    if key == "months_since_return":
        returned = _date(_field(after, "return_date")) or _date(_field(before, "return_date"))
        interview = _date(_field(after, "interview_date"))
        if returned is None or interview is None:
            return None
        return months_band(months_between(returned, interview))
    for row in (after, before):
        value = _field(row, key)
        if value not in (None, ""):
            return str(value)
    return None
