"""JSON API for the form registry: publish, list, get, download the XForm, state."""

from __future__ import annotations

from flask import Blueprint, Response, g, request
from marshmallow import Schema, fields, validate

from server.registry import publish as registry
from server.accounts.auth import actor, requires
from server.enketo import web as enketo
from server.errors import FieldsyncError
from server.http.params import load_json

bp = Blueprint("forms", __name__, url_prefix="/api/v1")


class StateSchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(registry.STATES))


@bp.get("/health")
@requires("public")
def health():
    return {"status": "ok"}


@bp.post("/forms")
@requires("forms.publish")
def publish():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise FieldsyncError(
            "file_missing", "Send the XLSForm as a multipart field named 'file'."
        )
    answer = registry.forms_publish(g.db, upload.read(), upload.filename, actor=actor())
    created = answer.pop("created")
    enketo.follow_form(answer["form_id"])  # its web-form links, when Enketo is set up
    return answer, 201 if created else 200


@bp.get("/forms")
@requires("forms.read")
def list_forms():
    return {"forms": registry.forms_list(g.db)}


@bp.get("/forms/<name:form_id>")
@requires("forms.read")
def get_form(form_id):
    return registry.form_get(g.db, form_id)


@bp.get("/forms/<name:form_id>/versions/<name:version>/xform")
@requires("forms.read")
def get_xform(form_id, version):
    row = registry.version_get(g.db, form_id, version)
    return Response(row["xform"], mimetype="text/xml",
                    headers={"ETag": f'"{row["md5"]}"'})


@bp.post("/forms/<name:form_id>/state")
@requires("forms.manage")
def set_state(form_id):
    body = load_json(StateSchema())
    answer = registry.form_set_state(g.db, form_id, body["state"], actor=actor())
    enketo.follow_form(form_id)  # closing or closed: its web-form links stop accepting
    return answer
