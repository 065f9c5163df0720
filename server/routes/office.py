"""JSON API for the office at a glance: the overview, sync status by tablet and
enumerator, and a form's submissions as a filtered, paged table."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request

from server.accounts.auth import requires
from server.review.status import office_overview, sync_status
from server.review.table import TableQuery, submission_table

bp = Blueprint("office", __name__, url_prefix="/api/v1")


@bp.get("/overview")
@requires("submissions.read")
def overview():
    return office_overview(g.db)


@bp.get("/devices")
@requires("submissions.read")
def devices():
    return sync_status(g.db, silent_after_days=current_app.config["SILENT_AFTER_DAYS"])


@bp.get("/forms/<name:form_id>/records")
@requires("submissions.read")
def records(form_id):
    return submission_table(g.db, form_id, TableQuery.from_args(request.args))
