"""JSON API for the outbox: status and dead letters, and queueing a retry (admin)."""

from __future__ import annotations

from flask import Blueprint, g, request
from marshmallow import Schema, fields

from server.forwarding import outbox
from server.accounts.auth import actor, requires
from server.http.params import int_arg, load_json

bp = Blueprint("outbox", __name__, url_prefix="/api/v1")


class RetrySchema(Schema):
    instance_ids = fields.List(fields.String(), load_default=None)


@bp.get("/outbox")
@requires("outbox.manage")
def status():
    limit = int_arg("limit", 100, 1000)
    return {**outbox.outbox_status(g.db),
            "dead_letters": outbox.outbox_list(g.db, limit=limit,
                                               state=request.args.get("state"))}


@bp.post("/outbox/retry")
@requires("outbox.manage")
def retry():
    body = load_json(RetrySchema()) if request.get_data() else {}
    return {"queued": outbox.outbox_retry(g.db, body.get("instance_ids"), actor=actor())}
