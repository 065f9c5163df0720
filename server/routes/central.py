"""ODK Central's REST API under /v1, for pyodk, ruODK and other Central clients.

Thin routes: each authenticates with ``server.central.auth.central_user``
(Bearer session or fieldsync token, or Basic), checks its permission from the
one PERMISSIONS table, calls one function of ``server.central`` and renders
Central's JSON. Refusals carry Central's ``{"code", "message"}`` and
fieldsync's ``{"error": {...}}`` (``server.central.errors``). The OData routes
are in ``server.routes.odata``; docs/central-api.md lists what exists.
"""

from __future__ import annotations

import mimetypes

from flask import Blueprint, Response, current_app, g, request

from server.accounts.auth import actor, requires
from server.central import auth as central_auth
from server.central import shapes
from server.central import submissions as central_subs
from server.central.csvzip import csv_zip, root_csv
from server.central.errors import CentralError, render_error
from server.errors import FieldsyncError
from server.http.streams import closing_after, disposition, own_connection
from server.registry.publish import form_get, model_get, version_get
from server.store import forms as forms_q

bp = Blueprint("central", __name__, url_prefix="/v1")
AUTH = (central_auth.central_user,)
FORM = "/projects/<int:project_id>/forms/<name:form_id>"
SUBMISSION = FORM + "/submissions/<instance_id>"


@bp.record_once
def _install_renderer(state) -> None:
    state.app.extensions.setdefault("fieldsync_error_renderers", {})["central"] = render_error


@bp.post("/sessions")
@requires("public")
def session_create():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("email"), str) \
            or not isinstance(body.get("password"), str):
        raise FieldsyncError("validation_failed", "Send JSON {\"email\": USER, \"password\": "
                             "PASSWORD}; the email is the fieldsync user name.")
    return central_auth.session_create(g.db, body["email"], body["password"])


@bp.delete("/sessions/<token>")
@requires("account.self", authenticators=AUTH)
def session_end(token):
    return central_auth.session_end(g.db, token, g.user)


@bp.get("/users/current")
@requires("account.self", authenticators=AUTH)
def users_current():
    return shapes.current_user(g.user, _extended())


@bp.get("/projects")
@requires("forms.read", authenticators=AUTH)
def projects():
    return [shapes.project(g.db, _project_name(), _extended())]


@bp.get("/projects/<int:project_id>")
@requires("forms.read", authenticators=AUTH)
def project(project_id):
    shapes.check_project(project_id)
    return shapes.project(g.db, _project_name(), _extended())


@bp.get("/projects/<int:project_id>/forms")
@requires("forms.read", authenticators=AUTH)
def forms(project_id):
    shapes.check_project(project_id)
    return [shapes.form(g.db, row, _extended()) for row in forms_q.list_forms(g.db)]


@bp.get(FORM)
@requires("forms.read", authenticators=AUTH)
def form(project_id, form_id):
    return shapes.form(g.db, _form(project_id, form_id), _extended())


@bp.get(FORM + ".xml")
@requires("forms.read", authenticators=AUTH)
def form_xml(project_id, form_id):
    row = _form(project_id, form_id)
    xform = version_get(g.db, form_id, row["current_version"])["xform"]
    return Response(xform.encode("utf-8"), mimetype="application/xml")


@bp.get(FORM + "/versions")
@requires("forms.read", authenticators=AUTH)
def form_versions(project_id, form_id):
    return shapes.form_versions(g.db, _form(project_id, form_id), _extended())


@bp.get(FORM + "/fields")
@requires("forms.read", authenticators=AUTH)
def form_fields(project_id, form_id):
    row = _form(project_id, form_id)
    odata = request.args.get("odata", "false").lower() == "true"
    return shapes.fields(model_get(g.db, form_id, row["current_version"]), odata)


@bp.get(FORM + "/submissions")
@requires("submissions.read", authenticators=AUTH)
def submissions(project_id, form_id):
    _form(project_id, form_id)
    extended = _extended()
    with own_connection() as db:
        chunks = central_subs.submissions_listing(db, form_id, extended=extended)
    return Response(closing_after(db, chunks), mimetype="application/json")


@bp.post(FORM + "/submissions")
@requires("submissions.create", authenticators=AUTH)
def submission_create(project_id, form_id):
    _form(project_id, form_id)
    return central_subs.submission_create(g.db, form_id, request.get_data(),
                                          user=g.user["name"],
                                          device_id=request.args.get("deviceID"))


@bp.get(FORM + "/submissions.csv.zip")
@requires("submissions.read", authenticators=AUTH)
def submissions_csv_zip(project_id, form_id):
    _form(project_id, form_id)
    media = request.args.get("attachments", "true").lower() != "false"
    with own_connection() as db:
        chunks = csv_zip(db, form_id, media=media)
    return Response(closing_after(db, chunks), mimetype="application/zip",
                    headers={"Content-Disposition": disposition(f"{form_id}.zip")})


@bp.get(FORM + "/submissions.csv")
@requires("submissions.read", authenticators=AUTH)
def submissions_csv(project_id, form_id):
    _form(project_id, form_id)
    with own_connection() as db:
        chunks = root_csv(db, form_id)
    return Response(closing_after(db, chunks), mimetype="text/csv",
                    headers={"Content-Disposition": disposition(f"{form_id}.csv")})


@bp.get(SUBMISSION)
@requires("submissions.read", authenticators=AUTH)
def submission(project_id, form_id, instance_id):
    _form(project_id, form_id)
    return central_subs.submission_get(g.db, form_id, instance_id, extended=_extended())


@bp.patch(SUBMISSION)
@requires("submissions.review", authenticators=AUTH)
def submission_review(project_id, form_id, instance_id):
    _form(project_id, form_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "reviewState" not in body:
        raise CentralError("review_state_invalid", "Send JSON {\"reviewState\": \"approved\"} "
                           "(hasIssues, approved or rejected).")
    return central_subs.submission_review(g.db, form_id, instance_id, body["reviewState"],
                                          actor=actor())


@bp.put(SUBMISSION)
@requires("submissions.review", authenticators=AUTH)
def submission_edit(project_id, form_id, instance_id):
    _form(project_id, form_id)
    return central_subs.submission_edit(g.db, form_id, instance_id, request.get_data(),
                                        user=g.user["name"])


@bp.get(SUBMISSION + "/comments")
@requires("submissions.read", authenticators=AUTH)
def comments(project_id, form_id, instance_id):
    _form(project_id, form_id)
    return central_subs.comments_of(g.db, form_id, instance_id)


@bp.post(SUBMISSION + "/comments")
@requires("submissions.review", authenticators=AUTH)
def comment_add(project_id, form_id, instance_id):
    _form(project_id, form_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        raise CentralError("comment_invalid", "Send JSON {\"body\": \"the comment\"}.")
    return central_subs.comment_add(g.db, form_id, instance_id, body["body"], actor=actor())


@bp.get(SUBMISSION + "/attachments")
@requires("submissions.read", authenticators=AUTH)
def attachments(project_id, form_id, instance_id):
    _form(project_id, form_id)
    return shapes.attachments(central_subs.attachments_of(g.db, form_id, instance_id))


@bp.get(SUBMISSION + "/attachments/<filename>")
@requires("submissions.read", authenticators=AUTH)
def attachment(project_id, form_id, instance_id, filename):
    _form(project_id, form_id)
    data, sha256 = central_subs.attachment_get(g.db, form_id, instance_id, filename)
    ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Response(data, mimetype=ctype, headers={
        "ETag": f'"{sha256}"', "Content-Disposition": disposition(filename)})


@bp.post(SUBMISSION + "/attachments/<filename>")
@requires("submissions.create", authenticators=AUTH)
def attachment_upload(project_id, form_id, instance_id, filename):
    _form(project_id, form_id)
    return central_subs.attachment_put(g.db, form_id, instance_id, filename,
                                       request.get_data())


def _form(project_id: int, form_id: str) -> dict:
    shapes.check_project(project_id)
    return form_get(g.db, form_id)


def _extended() -> bool:
    return request.headers.get("X-Extended-Metadata", "").lower() == "true"


def _project_name() -> str:
    return f"fieldsync ({current_app.config.get('OFFICE', 'office')})"
