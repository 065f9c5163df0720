"""Streaming exports: GET /api/v1/forms/{form_id}/submissions?format=csv|jsonl|xlsx."""

from __future__ import annotations

from flask import Blueprint, request

from server.accounts.auth import requires
from server.http.exports import export_response

bp = Blueprint("exports", __name__, url_prefix="/api/v1")


@bp.get("/forms/<name:form_id>/submissions")
@requires("submissions.read")
def export(form_id):
    return export_response(form_id, request.args)
