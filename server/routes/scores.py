"""JSON API for scoring: publish and read specs, rescoring jobs, a record's scores
by version, and reintegration trends."""

from __future__ import annotations

from flask import Blueprint, g, request

from server.scores import rescore
from server.scores import specs as scoring_specs
from server.accounts.auth import actor, requires
from server.errors import FieldsyncError
from server.http.params import int_arg, threshold_arg
from server.scores import trends as scores_trends
from server.scores.trends import trends as compute_trends

bp = Blueprint("scores", __name__, url_prefix="/api/v1")
MAX_SPEC_BYTES = 4 * 1024 * 1024


@bp.post("/scoring/specs")
@requires("forms.publish")
def publish_spec():
    """The spec as a JSON body, or as a multipart field named ``file``."""
    upload = request.files.get("file")
    body = upload.read(MAX_SPEC_BYTES + 1) if upload else request.get_data(cache=False)
    if not body:
        raise FieldsyncError("file_missing", "Send the scoring spec as the JSON body, or as "
                             "a multipart field named 'file'.")
    if len(body) > MAX_SPEC_BYTES:
        raise FieldsyncError("payload_too_large", f"A scoring spec is at most "
                             f"{MAX_SPEC_BYTES} bytes.")
    answer = scoring_specs.scoring_publish(g.db, body, actor=actor())
    return answer, 201 if answer["created"] else 200


@bp.get("/scoring/specs")
@requires("forms.read")
def list_specs():
    return {"specs": scoring_specs.scoring_list(g.db, request.args.get("form_id"))}


@bp.get("/scoring/specs/<version>")
@requires("forms.read")
def get_spec(version):
    return scoring_specs.scoring_get(g.db, version)


@bp.get("/scoring/jobs")
@requires("submissions.read")
def list_jobs():
    return {"jobs": rescore.jobs(g.db, request.args.get("form_id"))}


@bp.get("/submissions/<path:instance_id>/scores")
@requires("submissions.read")
def submission_scores(instance_id):
    return rescore.submission_scores(g.db, instance_id)


@bp.get("/scores/trends")
@requires("submissions.read")
def trends():
    form_id = request.args.get("form_id")
    if not form_id:
        raise FieldsyncError("bad_request", "Name the form: ?form_id=rss&by=country,quarter.")
    return compute_trends(g.db, form_id, request.args.get("by", "country"),
                          request.args.get("scoring_version"), threshold_arg(),
                          request.args.get("country") or None)


@bp.get("/scores/trajectories")
@requires("submissions.read")
def trajectories():
    form_id = request.args.get("form_id")
    if not form_id:
        raise FieldsyncError("bad_request", "Name the form: ?form_id=rss[&case_id=...].")
    return scores_trends.trajectories(
        g.db, form_id, case_id=request.args.get("case_id"),
        scoring_version=request.args.get("scoring_version"),
        limit=int_arg("limit", 100, scores_trends.MAX_PEOPLE),
        after=request.args.get("after") or None)


@bp.get("/scores/changes")
@requires("submissions.read")
def changes():
    args = request.args
    if not args.get("form_id"):
        raise FieldsyncError("bad_request", "Name the form and two rounds: "
                             "?form_id=rss&from=baseline&to=6m.")
    try:
        tolerance = float(args.get("tolerance", scores_trends.DEFAULT_TOLERANCE))
    except ValueError:
        raise FieldsyncError("bad_request", "tolerance is a number, e.g. 0.05.") from None
    return scores_trends.changes(g.db, args["form_id"], args.get("from", ""),
                                 args.get("to", ""), args.get("by", ""), tolerance,
                                 args.get("scoring_version"))
