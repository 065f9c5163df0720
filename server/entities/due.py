"""Due lists: which returnees' next round is due, overdue or completed.

A form's **schedule** names its rounds and when each falls, counted in months
from an anchor date the entity carries (the RSS: ``return_date``)::

    {"list": "returnees", "round_field": "survey_round", "anchor": "return_date",
     "rounds": [{"name": "baseline", "months": 0}, {"name": "6m", "months": 6}, ...],
     "due_before_days": 30, "overdue_after_days": 30}

Without a stored schedule, a form that fills a list gets one derived from its
round question's choices: ``baseline`` is month 0 and ``6m``, ``12m``, ... are
6, 12, ... months (``schedule_set`` replaces it).

An entity's **next round** is the first scheduled round after the latest one
its records completed (a current record of the form that created or updated it,
not rejected by a reviewer). Its status on a day:

=============  ================================================================
``completed``  every round is done
``upcoming``   the next round falls more than ``due_before_days`` ahead
``due``        from ``due_before_days`` before the round's date to
               ``overdue_after_days`` after it
``overdue``    later than that
``no_date``    the entity has no usable anchor date
=============  ================================================================

The same figures travel to tablets as the list file's ``due_round``,
``due_date`` and ``due_status`` columns.
"""

from __future__ import annotations

import calendar
import json
import re
from datetime import date

from sqlite_utils import Database

from server.entities import apply
from server.entities.errors import EntitiesError
from server.errors import FieldsyncError
from server.registry.models import model_for, published_form
from server.store import entities as store
from server.store import forms as forms_q

STATUSES = ("due", "overdue", "upcoming", "completed", "no_date")
COLUMNS = ("due_round", "due_date", "due_status")
EXCLUDED_REVIEWS = ("rejected", "duplicate")
DEFAULT_DUE_BEFORE_DAYS = 30     # a round shows as due this long before its date
DEFAULT_OVERDUE_AFTER_DAYS = 30  # ... and as overdue this long after it
MAX_ROUNDS = 50
SEEN_MAX = 4096  # (rounds done, anchor date) pairs a list file remembers the status of
_MONTHS_RE = re.compile(r"^(\d{1,3})\s*m(?:onths?)?$", re.IGNORECASE)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _date(text) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10])
    except (TypeError, ValueError):
        return None


def status_of(schedule: dict, anchor, done: list[str], on: date) -> dict:
    """``{"next_round", "due_date", "status", "completed_rounds"}`` of one entity."""
    rounds = schedule["rounds"]
    held = set(done)
    completed = [r["name"] for r in rounds if r["name"] in held]
    last = max((i for i, r in enumerate(rounds) if r["name"] in held), default=-1)
    if last == len(rounds) - 1:
        return {"next_round": None, "due_date": None, "status": "completed",
                "completed_rounds": completed}
    nxt = rounds[last + 1]
    start = _date(anchor)
    if start is None:
        return {"next_round": nxt["name"], "due_date": None, "status": "no_date",
                "completed_rounds": completed}
    when = add_months(start, int(nxt["months"]))
    days = (on - when).days
    if days < -int(schedule["due_before_days"]):
        status = "upcoming"
    elif days <= int(schedule["overdue_after_days"]):
        status = "due"
    else:
        status = "overdue"
    return {"next_round": nxt["name"], "due_date": when.isoformat(), "status": status,
            "completed_rounds": completed}


def schedule_for(db: Database, form_id: str) -> dict | None:
    """The form's stored schedule, or the one derived from its round question;
    None when the form fills no list or its rounds cannot be read as months."""
    stored = store.get_schedule(db, form_id)
    if stored is not None:
        return stored
    form = forms_q.get_form(db, form_id)
    if form is None or not form["current_version"]:
        return None
    decl = apply.declaration(db, form_id, form["current_version"])
    model = model_for(db, form_id, form["current_version"])
    round_field = model.resolve(apply.ROUND_FIELD) if model is not None else None
    if decl is None or round_field is None or not round_field.list_name:
        return None
    rounds = []
    for choice in model.choices.get(round_field.list_name, []):
        months = 0 if choice.name == "baseline" else _months(choice.name)
        if months is None:
            return None
        rounds.append({"name": choice.name, "months": months})
    if not rounds:
        return None
    return {"list": decl.dataset, "round_field": round_field.path, "anchor": "return_date",
            "rounds": sorted(rounds, key=lambda r: r["months"]),
            "due_before_days": DEFAULT_DUE_BEFORE_DAYS,
            "overdue_after_days": DEFAULT_OVERDUE_AFTER_DAYS, "derived": True}


def _months(name: str) -> int | None:
    found = _MONTHS_RE.match(name.strip())
    return int(found.group(1)) if found else None


def schedule_get(db: Database, form_id: str) -> dict:
    """The schedule due lists of ``form_id`` use (what ``GET .../due/schedule`` shows)."""
    published_form(db, form_id)
    schedule = schedule_for(db, form_id)
    if schedule is None:
        raise EntitiesError("schedule_invalid", f"Form '{form_id}' has no due schedule and "
                            "none can be derived from it: set one with `fieldsync due "
                            "schedule FORM_ID --rounds baseline=0,6m=6,...`.",
                            {"form_id": form_id})
    return {"form_id": form_id, **schedule}


def schedule_set(db: Database, form_id: str, schedule: dict, actor: str | None = None) -> dict:
    """Check and store a form's schedule; returns it as stored."""
    published_form(db, form_id)
    base = schedule_for(db, form_id) or {}
    merged = {k: v for k, v in {**base, **schedule}.items() if k != "derived"}
    clean = _checked(merged)
    with db.atomic():
        store.put_schedule(db, form_id, clean, actor)
    return {"form_id": form_id, **clean}


def _checked(s: dict) -> dict:
    def bad(message):
        return EntitiesError("schedule_invalid", message, {"schedule": s})

    for key in ("list", "round_field", "anchor"):
        if not isinstance(s.get(key), str) or not s[key].strip():
            raise bad(f"The schedule needs '{key}': a non-empty text.")
    rounds = s.get("rounds")
    if not isinstance(rounds, list) or not rounds or len(rounds) > MAX_ROUNDS:
        raise bad(f"'rounds' is a list of 1 to {MAX_ROUNDS} "
                  "{\"name\": ROUND, \"months\": N}.")
    clean_rounds, names = [], set()
    for r in rounds:
        name = r.get("name") if isinstance(r, dict) else None
        months = r.get("months") if isinstance(r, dict) else None
        if (not isinstance(name, str) or not name or name in names
                or not isinstance(months, int) or isinstance(months, bool) or months < 0):
            raise bad("Each round is {\"name\": a distinct round value, \"months\": a whole "
                      f"number >= 0 after the anchor date}} (got {r!r}).")
        names.add(name)
        clean_rounds.append({"name": name, "months": months})
    out = {"list": s["list"].strip(), "round_field": s["round_field"].strip(),
           "anchor": s["anchor"].strip(),
           "rounds": sorted(clean_rounds, key=lambda r: r["months"])}
    for key, default in (("due_before_days", DEFAULT_DUE_BEFORE_DAYS),
                         ("overdue_after_days", DEFAULT_OVERDUE_AFTER_DAYS)):
        value = s.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 3660:
            raise bad(f"'{key}' is a whole number of days between 0 and 3660.")
        out[key] = value
    return out


class DueColumns:
    """The due columns of one list's file, computed entity by entity while it
    streams: ``column`` is the rounds column ``iter_entities`` adds."""

    def __init__(self, db: Database, form_id: str, schedule: dict, on: date):
        self.schedule, self.on = schedule, on
        self.column = store.rounds_column(db, form_id, schedule["round_field"],
                                          EXCLUDED_REVIEWS)
        self._seen: dict[tuple, dict] = {}

    def state(self, rounds: str | None, properties: dict) -> dict:
        done = rounds.split(store.ROUND_SEPARATOR) if rounds else []
        return status_of(self.schedule, properties.get(self.schedule["anchor"]), done,
                         self.on)

    def values(self, rounds: str | None, properties: dict) -> dict:
        # Many returnees share a return date and rounds done: each pair is worked
        # out once per file (a bounded table, emptied when full).
        key = (rounds, properties.get(self.schedule["anchor"]))
        found = self._seen.get(key)
        if found is None:
            if len(self._seen) >= SEEN_MAX:
                self._seen.clear()
            state = self.state(rounds, properties)
            found = self._seen[key] = {"due_round": state["next_round"] or "",
                                       "due_date": state["due_date"] or "",
                                       "due_status": state["status"]}
        return found


def due_list(db: Database, form_id: str, *, status: str | None = None,
             assignee: str | None = None, on: str | None = None, limit: int = 500,
             after: int = 0) -> dict:
    """Every entity of the form's list with its next round and status on ``on``
    (default today): ``{"form_id", "list", "on", "counts": {status: n},
    "items": [...], "next"}``; ``status``/``assignee`` filter the items."""
    if status is not None and status not in STATUSES:
        raise FieldsyncError("bad_request", f"status is one of {', '.join(STATUSES)}.")
    day = _day(on)
    schedule = schedule_get(db, form_id)
    if store.get_list(db, schedule["list"]) is None:
        raise EntitiesError("list_unknown", f"Form '{form_id}' fills the list "
                            f"'{schedule['list']}', which holds no entity yet.",
                            {"list": schedule["list"]})
    columns = DueColumns(db, form_id, schedule, day)
    counts = {s: 0 for s in STATUSES}
    items, last = [], after
    for entity_id, uuid, label, version, props_json, who, rounds in store.iter_entities(
            db, schedule["list"], None if assignee is None else [assignee], columns.column):
        if assignee is not None and who != assignee:
            continue
        props = json.loads(props_json)
        state = columns.state(rounds, props)
        counts[state["status"]] += 1
        if (status is None or state["status"] == status) and entity_id > after \
                and len(items) < limit:
            items.append({"id": uuid, "label": label, "version": version, "assignee": who,
                          "anchor": props.get(schedule["anchor"]), **state})
            last = entity_id
    more = len(items) >= limit
    return {"form_id": form_id, "list": schedule["list"], "on": day.isoformat(),
            "counts": counts, "items": items, "next": last if more else None}


def _day(on: str | None) -> date:
    if not on:
        return date.today()
    day = _date(on)
    if day is None or len(on) != 10:
        raise FieldsyncError("bad_request", "'on' is a date as YYYY-MM-DD.")
    return day


