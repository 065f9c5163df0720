"""A form's submissions table, its exports, and one record's page."""

from __future__ import annotations

import mimetypes

from flask import Response, flash, g, redirect, request, url_for

from server.accounts.auth import actor
from server.console.blueprint import bp, may, page, render
from server.console.record import sections
from server.errors import FieldsyncError
from server.i18n import current_language
from server.i18n import gettext as _
from server.registry.models import model_for
from server.registry.publish import form_get
from server.review import actions as review
from server.review.record import submission_get
from server.review.table import TableQuery, submission_table
from server.http.exports import export_response
from server.store import submissions as subs_q

FILTERS = ("state", "review_state", "device", "enumerator", "from", "to", "flagged",
           "duplicate", "country", "round", "columns", "limit")
EXPORT_FILTERS = ("country", "round", "review_state", "device", "enumerator", "from", "to")
YES_NO = {"yes": "true", "no": "false"}


@bp.get("/forms/<name:form_id>/submissions")
@page("submissions.read")
def submissions(form_id):
    args = request.args.to_dict()
    if "col" in request.args:  # the column checkboxes
        args["columns"] = ",".join(request.args.getlist("col"))
    table = submission_table(g.db, form_id, TableQuery.from_args(args))
    filters = {k: args[k] for k in FILTERS if args.get(k)}
    exports = {fmt: url_for("console.export", form_id=form_id, format=fmt,
                            **_export_args(filters)) for fmt in ("csv", "jsonl", "xlsx")}
    return render("submissions/table.html", form=form_get(g.db, form_id), table=table,
                  filters=filters, exports=exports,
                  record_base=url_for("console.record", instance_id="-")[:-1],
                  next_url=url_for("console.submissions", form_id=form_id, **filters,
                                   before=table["next"]) if table["next"] else None)


def _export_args(filters: dict) -> dict:
    args = {k: v for k, v in filters.items() if k in EXPORT_FILTERS}
    for name in ("flagged", "duplicate"):  # the table's yes/no, the export's true/false
        if filters.get(name) in YES_NO:
            args[name] = YES_NO[filters[name]]
    if "from" in args or "to" in args:
        args["date_field"] = "received_at"
    if filters.get("state") == "all":
        args["include"] = "all"
    return args


@bp.get("/forms/<name:form_id>/export")
@page("submissions.read")
def export(form_id):
    """The same streaming export as GET /api/v1/forms/{form_id}/submissions."""
    return export_response(form_id, request.args)


@bp.get("/submissions/<path:instance_id>")
@page("submissions.read")
def record(instance_id):
    got = submission_get(g.db, instance_id)
    model = model_for(g.db, got["form_id"], got["form_version"])
    shown = review.review_show(g.db, instance_id, differences=False) \
        if may("submissions.review") else None
    scores = got["scores"] or {}
    return render(
        "submissions/record.html", rec=got,
        sections=sections(model, got["data"], got["findings"], current_language()),
        scores=scores.get("scores") or {}, indicators=scores.get("indicators") or {},
        reviews=shown["reviews"] if shown else [],
        duplicates=shown["duplicates"] if shown else [],
        review_states=review.REVIEW_STATES)


@bp.post("/submissions/<path:instance_id>/review")
@page("submissions.review")
def record_review(instance_id):
    review.review_saved(g.db, instance_id, request.form.get("state", ""),
                        request.form.get("comment") or None, actor=actor())
    flash(_("Review saved."), "ok")
    return redirect(url_for("console.record", instance_id=instance_id))


@bp.get("/submissions/<path:instance_id>/attachments/<name>")
@page("submissions.read")
def attachment(instance_id, name):
    got = submission_get(g.db, instance_id)
    item = next((a for a in got["attachments"] if a["name"] == name and a["received"]), None)
    data = subs_q.get_blob(g.db, item["sha256"]) if item else None
    if data is None:
        raise FieldsyncError("attachment_unknown", f"No attachment '{name}' is held for "
                             f"{instance_id}.")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    inline = kind.startswith("image/") and kind != "image/svg+xml"
    shown = "".join(c for c in name if c.isprintable() and c not in '"\\') or "attachment"
    return Response(data, mimetype=kind if inline else "application/octet-stream", headers={
        "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename=\"{shown}\""})


