"""OpenRosa for ODK Collect, KoboCollect and Enketo: form list, XForm, manifest,
form media and submission, with Basic and Digest authentication.

Every answer carries ``X-OpenRosa-Version: 1.0``; refusals are OpenRosaResponse
XML (a 401 with Digest and Basic challenges). The admin upload of form media is
JSON, under /api/v1, in the nested ``media`` blueprint.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from server.accounts.auth import actor, bearer_user, requires
from server.entities import lists as entity_lists
from server.errors import FieldsyncError
from server.ingest.pipeline import ingest
from server.openrosa import authn, media, submission
from server.openrosa import xml as orxml
from server.openrosa.catalog import form_list_entries
from server.http.params import body_limit
from server.http.streams import closing_after, own_connection
from server.http.urls import external_url
from server.registry.publish import version_get

bp = Blueprint("openrosa", __name__)
media_bp = Blueprint("media", __name__, url_prefix="/api/v1")
AUTHENTICATORS = (authn.digest_user, authn.basic_user, bearer_user)
XML_TYPE = "text/xml; charset=utf-8"
DRAIN_MAX = 64 * 1024 * 1024  # read at most this much of a refused body


@bp.record_once
def _install_renderer(state) -> None:
    state.app.extensions.setdefault("fieldsync_error_renderers", {})["openrosa"] = _render_error


@bp.after_request
def _openrosa_headers(response: Response) -> Response:
    response.headers["X-OpenRosa-Version"] = "1.0"
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(body_limit())
    return response


@bp.get("/formList")
@requires("forms.read", authenticators=AUTHENTICATORS)
def form_list():
    entries = form_list_entries(
        g.db, _version_url, form_id=request.args.get("formID") or None,
        all_versions=request.args.get("listAllVersions", "").lower() == "true")
    verbose = request.args.get("verbose", "").lower() == "true"
    return Response(orxml.form_list(entries, verbose), content_type=XML_TYPE)


@bp.get("/forms/<name:form_id>/versions/<name:version>/xform")
@requires("forms.read", authenticators=AUTHENTICATORS)
def xform(form_id, version):
    row = version_get(g.db, form_id, version)
    return Response(row["xform"].encode("utf-8"), content_type=XML_TYPE,
                    headers={"ETag": f'"{row["md5"]}"'})


@bp.get("/forms/<name:form_id>/versions/<name:version>/manifest")
@requires("forms.read", authenticators=AUTHENTICATORS)
def manifest(form_id, version):
    files = [
        {**item, "download_url": external_url("openrosa.media_file", form_id=form_id,
                                           version=version, name=item["name"])}
        for item in media.manifest_files(g.db, form_id, version, g.user)
    ]
    return Response(orxml.manifest(files), content_type=XML_TYPE)


@bp.get("/forms/<name:form_id>/versions/<name:version>/media/<name>")
@requires("forms.read", authenticators=AUTHENTICATORS)
def media_file(form_id, version, name):
    listed = media.entity_list_of(g.db, form_id, version, name)
    if listed is not None:
        return _entity_list_file(form_id, listed)
    row = media.media_get(g.db, form_id, version, name)
    return Response(row["data"], content_type=row["content_type"],
                    headers={"ETag": f'"{row["md5"]}"'})


@bp.route("/submission", methods=["HEAD"])
@requires("submissions.create", authenticators=AUTHENTICATORS)
def submission_head():
    return Response(status=204, headers={"Location": external_url("openrosa.submission_head")})


@bp.post("/submission")
@requires("submissions.create", authenticators=AUTHENTICATORS)
def submission_post():
    upload = submission.read_upload(request.stream, request.content_type,
                                    request.content_length, body_limit())
    listed, blobs = submission.media_blobs(upload)
    record = submission.to_record(g.db, upload, listed)
    [result] = ingest(g.db, [record], door="openrosa", user=g.user["name"],
                      device_id=request.args.get("deviceID"), blobs=blobs)
    answer = submission.outcome(result, len(upload.media))
    return Response(orxml.response(answer.message), status=answer.status,
                    content_type=XML_TYPE)


@media_bp.post("/forms/<name:form_id>/versions/<name:version>/media")
@requires("forms.publish")
def upload_media(form_id, version):
    upload = request.files.get("file")
    if upload is None:
        raise FieldsyncError("file_missing", "Send the media file as a multipart field "
                             "named 'file'.")
    answer = media.media_add(g.db, form_id, version, upload.filename, upload.mimetype,
                             upload.read(), actor=actor())
    return answer, 201 if answer["created"] else 200


@media_bp.get("/forms/<name:form_id>/versions/<name:version>/media")
@requires("forms.read")
def list_media(form_id, version):
    return {"media": media.media_list(g.db, form_id, version)}


bp.register_blueprint(media_bp)


def _entity_list_file(form_id: str, name: str) -> Response:
    """An entity list as the user's tablet receives it, streamed on a connection
    of its own (the file outlives the request's); 304 when the tablet holds it."""
    etag = entity_lists.list_hash(g.db, form_id, name, entity_lists.visible_to(g.db, g.user))
    if request.if_none_match.contains(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    with own_connection() as db:
        chunks = entity_lists.list_file(db, form_id, name, g.user)
    return Response(closing_after(db, chunks), content_type="text/csv; charset=utf-8",
                    headers={"ETag": f'"{etag}"'})


def _version_url(kind: str, form_id: str, version: str) -> str:
    return external_url(f"openrosa.{kind}", form_id=form_id, version=version)


def _render_error(status: int, code: str, message: str, details: dict):
    headers = [("X-OpenRosa-Version", "1.0")]
    if status == 401:
        headers += authn.challenges(stale=bool(details.get("stale")))
        if code == "auth_required":
            message = ("Sign in: send Digest (or, over TLS only, Basic) credentials of a "
                       "fieldsync account.")
    if status == 413:
        _drain_body()
    body = b"" if request.method == "HEAD" else orxml.response(message, nature="error")
    return Response(body, status=status, headers=headers, content_type=XML_TYPE)


def _drain_body() -> None:
    """Read (and drop) the rest of a refused body, up to DRAIN_MAX, so the client
    gets the 413 instead of a connection reset while it is still sending."""
    stream = request.environ.get("wsgi.input")
    left = DRAIN_MAX
    while stream is not None and left > 0:
        chunk = stream.read(min(65536, left))
        if not chunk:
            break
        left -= len(chunk)
