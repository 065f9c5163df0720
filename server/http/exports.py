"""An export as an HTTP response: the query parameters every door reads the same
way (the API's export route and the console's export buttons), and the streamed
file with its name and resume headers."""

from __future__ import annotations

from flask import Response

from server.errors import FieldsyncError
from server.exports.stream import FORMATS, ExportOptions, export_plan, stream
from server.http.params import MAX_INTEGER
from server.http.streams import closing_after, disposition, own_connection

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_response(form_id: str, args) -> Response:
    """The streamed export of ``form_id`` for these query parameters (also the
    console's export buttons)."""
    fmt = args.get("format", "csv")
    if fmt not in FORMATS:
        raise FieldsyncError("bad_request", f"format must be one of {', '.join(FORMATS)}.")
    options = options_from(args)
    with own_connection() as db:
        plan = export_plan(db, form_id, options, fmt)
    name = f"{form_id}{'-' + plan.repeat.replace('/', '-') if plan.repeat else ''}.{fmt}"
    return Response(closing_after(db, stream(db, plan, fmt)), mimetype=MIMETYPES[fmt],
                    headers={"X-Fieldsync-Next": str(plan.next),
                             "X-Fieldsync-Since": str(plan.since),
                             "Content-Disposition": disposition(name)})


def options_from(args) -> ExportOptions:
    since = args.get("since", "0")
    if not (since.isdigit() and since.isascii()):
        raise FieldsyncError("bad_request", "'since' must be a non-negative integer (a seq "
                             "from X-Fieldsync-Next).")
    if len(since) > 19 or int(since) > MAX_INTEGER:
        raise FieldsyncError("bad_request", f"'since' is larger than any seq (at most "
                             f"{MAX_INTEGER}).")
    date_field = args.get("date_field", "interview_date")
    if date_field not in ("interview_date", "received_at"):
        raise FieldsyncError("bad_request", "'date_field' is interview_date or received_at.")
    return ExportOptions(
        since=int(since), repeat=args.get("repeat") or None,
        include_all=args.get("include", "current") == "all",
        country=args.get("country"), round=args.get("round"),
        review_state=args.get("review_state"), office=args.get("office"),
        device=args.get("device") or None, enumerator=args.get("enumerator") or None,
        flagged=_either(args, "flagged"), duplicate=_either(args, "duplicate"),
        date_field=date_field, date_from=args.get("from"), date_to=args.get("to"),
        raw=_flag(args, "raw"))


def _either(args, name: str) -> bool | None:
    """A filter that keeps records with (true) or without (false) something; None
    when not given."""
    return _flag(args, name) if args.get(name) not in (None, "") else None


def _flag(args, name: str) -> bool:
    value = args.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise FieldsyncError("bad_request", f"'{name}' is true or false.")
    return value in ("true", "1")
