"""A form's submissions as a table: filters, keyset paging, chosen columns.

The Python API behind ``GET /api/v1/forms/{form_id}/records`` and the console's
``/forms/{form_id}/submissions`` page; both read their filters from the same
query parameters through ``TableQuery.from_args``:

    state, review_state, device, enumerator, from, to (received, YYYY-MM-DD),
    flagged (yes|no), duplicate (yes|no), country, round, columns (a,b,c),
    before (the ``next`` of the previous page), limit
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlite_utils import Database

from server.errors import FieldsyncError
from server.exports.stream import COUNTRY_FIELDS, ROUND_FIELDS
from server.registry.publish import form_get
from server.store import table as table_q

DEFAULT_COLUMNS = ("case_id", "country_of_return", "survey_round", "interview_date")
MAX_LIMIT = 500
MAX_COLUMNS = 60


@dataclass
class TableQuery:
    state: str | None = "current"
    review_state: str | None = None
    device: str | None = None
    enumerator: str | None = None
    received_from: str | None = None
    received_to: str | None = None
    flagged: bool | None = None
    duplicate: bool | None = None
    country: str | None = None
    round: str | None = None
    columns: list[str] | None = None
    before: int | None = None
    limit: int = 50

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> TableQuery:
        """Read the query parameters; refuse malformed ones with what to fix."""
        get = lambda k: (args.get(k) or "").strip() or None  # noqa: E731
        state = get("state") or "current"
        if state not in table_q.STATES + ("all",):
            raise _bad(f"state is one of: {', '.join(table_q.STATES)}, all.")
        columns = get("columns")
        return cls(
            state=None if state == "all" else state, review_state=get("review_state"),
            device=get("device"), enumerator=get("enumerator"),
            received_from=_day(get("from"), "from"), received_to=_day(get("to"), "to"),
            flagged=_yes_no(get("flagged"), "flagged"),
            duplicate=_yes_no(get("duplicate"), "duplicate"),
            country=get("country"), round=get("round"),
            columns=[c for c in columns.split(",") if c][:MAX_COLUMNS] if columns else None,
            before=_int(get("before"), "before"),
            limit=min(_int(get("limit"), "limit") or 50, MAX_LIMIT))


def submission_table(db: Database, form_id: str, query: TableQuery) -> dict:
    """``{"form_id", "columns", "available_columns", "rows", "next"}``; ``next`` is
    the ``before`` of the following page (None on the last page)."""
    form_get(db, form_id)  # form_unknown when it is not published here
    available = table_q.answer_columns(db, form_id)
    have = set(available)
    columns = query.columns if query.columns is not None else [
        c for c in DEFAULT_COLUMNS if c in have]
    unknown = [c for c in columns if c not in have]
    if unknown:
        raise _bad(f"Unknown column(s) for form '{form_id}': {', '.join(unknown)}; choose "
                   "among available_columns.", {"columns": unknown})
    equal = {}
    for value, candidates, what in ((query.country, COUNTRY_FIELDS, "country"),
                                    (query.round, ROUND_FIELDS, "round")):
        if value:
            column = next((c for c in candidates if c in have), None)
            if column is None:
                raise _bad(f"This form has no {what} field ({' or '.join(candidates)}) to "
                           "filter on.")
            equal[column] = value
    to = query.received_to + "T23:59:59.999Z" if query.received_to else None
    rows = table_q.page(
        db, form_id, columns=columns, state=query.state, review_state=query.review_state,
        device=query.device, enumerator=query.enumerator,
        received_from=query.received_from, received_to=to, flagged=query.flagged,
        duplicate=query.duplicate, answers_equal=equal, before=query.before,
        limit=query.limit + 1)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    for row in rows:
        row["flags"] = json.loads(row["flags"] or "[]")
    nxt = rows[-1]["key"] if more else None
    for row in rows:
        del row["key"]
    return {"form_id": form_id, "columns": columns, "available_columns": available,
            "rows": rows, "next": nxt}


def _day(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if len(value) != 10 or value[4] != "-" or value[7] != "-" or \
            not value.replace("-", "").isdigit():
        raise _bad(f"'{name}' is a date written YYYY-MM-DD.")
    return value


def _yes_no(value: str | None, name: str) -> bool | None:
    if value is None or value == "any":
        return None
    if value not in ("yes", "no"):
        raise _bad(f"'{name}' is yes, no or any.")
    return value == "yes"


def _int(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise _bad(f"'{name}' must be a non-negative integer.")
    return int(value)


def _bad(message: str, details: dict | None = None) -> FieldsyncError:
    return FieldsyncError("bad_request", message, details)
