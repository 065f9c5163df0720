"""JSON API for the supervisor's review: queues, review states, duplicates.

Thin routes: parse the query or body, check ``submissions.review`` (admin,
supervisor), call one function of ``server.review.actions``, render its answer.
"""

from __future__ import annotations

from flask import Blueprint, g, request
from marshmallow import Schema, fields, validate

from server.review import actions as review
from server.accounts.auth import actor, requires
from server.http.params import int_arg, load_json

bp = Blueprint("review", __name__, url_prefix="/api/v1")


class ReviewSchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(review.REVIEW_STATES))
    comment = fields.String(load_default=None, allow_none=True)


class CommentSchema(Schema):
    comment = fields.String(required=True)


class ResolveSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(review.ACTIONS))
    duplicate = fields.String(load_default=None, allow_none=True)
    base = fields.String(load_default=None, allow_none=True)
    take = fields.List(fields.String(), load_default=None, allow_none=True)
    values = fields.Dict(keys=fields.String(), load_default=None, allow_none=True)
    comment = fields.String(load_default=None, allow_none=True)


@bp.get("/review/queue")
@requires("submissions.review")
def queue():
    return review.review_queue(
        g.db, request.args.get("kind", "flagged"), state=request.args.get("state", "open"),
        after=int_arg("after", 0), limit=int_arg("limit", 100), **_filters())


@bp.get("/review/submissions/<path:instance_id>")
@requires("submissions.review")
def show(instance_id):
    return review.review_show(g.db, instance_id)


@bp.post("/submissions/<path:instance_id>/review")
@requires("submissions.review")
def set_review(instance_id):
    body = load_json(ReviewSchema())
    return review.review_set(g.db, instance_id, body["state"], body["comment"], actor=actor())


@bp.post("/submissions/<path:instance_id>/comments")
@requires("submissions.review")
def add_comment(instance_id):
    body = load_json(CommentSchema())
    return review.review_comment(g.db, instance_id, body["comment"], actor=actor())


@bp.get("/duplicates")
@requires("submissions.review")
def duplicates():
    return review.review_duplicates(
        g.db, status=request.args.get("status", "open"), after=int_arg("after", 0),
        limit=int_arg("limit", 100), **_filters())


@bp.get("/duplicates/<int:match_id>")
@requires("submissions.review")
def duplicate(match_id):
    return review.review_match(g.db, match_id)


@bp.post("/duplicates/<int:match_id>/resolve")
@requires("submissions.review")
def resolve(match_id):
    body = load_json(ResolveSchema())
    return review.review_resolve(g.db, match_id, body.pop("action"), actor=actor(), **body)


def _filters() -> dict:
    args = request.args
    return {"form_id": args.get("form_id") or args.get("form"), "device": args.get("device"),
            "enumerator": args.get("enumerator"), "since": args.get("since"),
            "until": args.get("until")}
