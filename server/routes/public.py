"""A public link's OpenRosa door: ``/public/{token}`` lists its one form, serves
its XForm, manifest and media, and accepts submissions to it, with no account
(server/enketo/public.py says what a link may do). Answers and refusals are
OpenRosa's, as on the signed-in door (server/routes/openrosa.py)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request

from server.accounts.auth import client_address, requires
from server.enketo import public, web
from server.errors import FieldsyncError
from server.ingest.pipeline import ingest
from server.openrosa import media, submission
from server.openrosa import xml as orxml
from server.openrosa.catalog import form_list_entries
from server.http.params import body_limit
from server.http.urls import external_url
from server.registry.publish import version_get
from server.store import openrosa as openrosa_q

bp = Blueprint("public", __name__, url_prefix="/public/<token>")
HOLDER = (web.public_link_holder,)
XML_TYPE = "text/xml; charset=utf-8"
PERMISSION = "public_link.submit"


@bp.record_once
def _install_renderer(state) -> None:
    state.app.extensions.setdefault("fieldsync_error_renderers", {})["public"] = _render_error


@bp.after_request
def _openrosa_headers(response: Response) -> Response:
    response.headers["X-OpenRosa-Version"] = "1.0"
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(body_limit())
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response


@bp.get("/formList")
@requires(PERMISSION, authenticators=HOLDER)
def form_list(token):
    form_id = g.public_link["form_id"]
    entries = form_list_entries(g.db, lambda kind, f, v: _door_url(kind, token, f, v),
                                form_id=form_id)
    return Response(orxml.form_list(entries, request.args.get("verbose") == "true"),
                    content_type=XML_TYPE)


@bp.get("/forms/<name:form_id>/versions/<name:version>/xform")
@requires(PERMISSION, authenticators=HOLDER)
def xform(token, form_id, version):
    row = version_get(g.db, _own(form_id), version)
    return Response(row["xform"].encode("utf-8"), content_type=XML_TYPE,
                    headers={"ETag": f'"{row["md5"]}"'})


@bp.get("/forms/<name:form_id>/versions/<name:version>/manifest")
@requires(PERMISSION, authenticators=HOLDER)
def manifest(token, form_id, version):
    version_get(g.db, _own(form_id), version)
    # Stored media only: an entity list (a case list) is never served anonymously.
    files = [{**item, "download_url": external_url("public.media_file", token=token,
                                                form_id=form_id, version=version,
                                                name=item["name"])}
             for item in openrosa_q.list_media(g.db, form_id, version)]
    return Response(orxml.manifest(files), content_type=XML_TYPE)


@bp.get("/forms/<name:form_id>/versions/<name:version>/media/<name>")
@requires(PERMISSION, authenticators=HOLDER)
def media_file(token, form_id, version, name):
    row = media.media_get(g.db, _own(form_id), version, name)
    return Response(row["data"], content_type=row["content_type"],
                    headers={"ETag": f'"{row["md5"]}"'})


@bp.route("/submission", methods=["HEAD"])
@requires(PERMISSION, authenticators=HOLDER)
def submission_head(token):
    return Response(status=204, headers={
        "Location": external_url("public.submission_head", token=token)})


@bp.post("/submission")
@requires(PERMISSION, authenticators=HOLDER)
def submission_post(token):
    link = g.public_link
    public.limit(g.db, client_address(),
                 int(current_app.config.get("PUBLIC_LINK_SUBMISSIONS_PER_HOUR") or 0))
    upload = submission.read_upload(request.stream, request.content_type,
                                    request.content_length, body_limit())
    listed, blobs = submission.media_blobs(upload)
    record = submission.to_record(g.db, upload, listed)
    public.admit(g.db, link, record)
    [result] = ingest(g.db, [record], door="public_link", user=public.submitter(link),
                      blobs=blobs)
    answer = submission.outcome(result, len(upload.media))
    return Response(orxml.response(answer.message), status=answer.status,
                    content_type=XML_TYPE)


def _own(form_id: str) -> str:
    """The link's form, or the same not-found answer as for a form not published."""
    if form_id != g.public_link["form_id"]:
        raise FieldsyncError("form_unknown", f"No form '{form_id}' is published here.",
                             {"form_id": form_id})
    return form_id


def _door_url(kind: str, token: str, form_id: str, version: str) -> str:
    return external_url(f"public.{kind}", token=token, form_id=form_id, version=version)


def _render_error(status: int, code: str, message: str, details: dict):
    from server.i18n.errors import error_message

    headers = [("X-OpenRosa-Version", "1.0")]
    if "retry_after" in details:
        headers.append(("Retry-After", str(details["retry_after"])))
    body = b"" if request.method == "HEAD" else orxml.response(
        error_message(code, message), nature="error")
    return Response(body, status=status, headers=headers, content_type=XML_TYPE)
