"""OData v4 per form under /v1, as ODK Central serves it (Power BI, Excel,
pyodk's ``get_table``, ruODK's ``odata_submission_get``).

    GET /v1/projects/1/forms/{form_id}.svc              service document
    GET /v1/projects/1/forms/{form_id}.svc/$metadata    EDMX metadata document
    GET /v1/projects/1/forms/{form_id}.svc/Submissions  data (and each repeat's table)

Every answer carries ``OData-Version: 4.0``. Data documents are streamed from
their own connection, in one read snapshot (``server.central.odata``).
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, g, request

from server.accounts.auth import requires
from server.central import odata as central_odata
from server.central.auth import central_user
from server.central.edm import metadata_xml, service_document
from server.central.errors import CentralError, render_error
from server.central.odata_query import parse_query, parse_table
from server.central.shapes import check_project
from server.http.urls import base_url
from server.store.odata import open_reader

bp = Blueprint("odata", __name__, url_prefix="/v1")
AUTH = (central_user,)
SERVICE = "/projects/<int:project_id>/forms/<name:form_id>.svc"
JSON_TYPE = "application/json;odata.metadata=minimal;charset=utf-8"


@bp.record_once
def _install_renderer(state) -> None:
    state.app.extensions.setdefault("fieldsync_error_renderers", {})["odata"] = render_error


@bp.after_request
def _odata_version(response: Response) -> Response:
    response.headers["OData-Version"] = "4.0"
    return response


@bp.get(SERVICE)
@bp.get(SERVICE + "/")
@requires("submissions.read", authenticators=AUTH)
def service(project_id, form_id):
    check_project(project_id)
    em = central_odata.entity_model(g.db, form_id)
    return Response(_dumps(service_document(em, _service_url(project_id, form_id))),
                    content_type=JSON_TYPE)


@bp.get(SERVICE + "/$metadata")
@requires("submissions.read", authenticators=AUTH)
def metadata(project_id, form_id):
    check_project(project_id)
    fmt = (request.args.get("$format") or "xml").lower()
    if fmt not in ("xml", "application/xml"):
        raise CentralError("odata_format_unacceptable", "Requested format not acceptable; "
                           "the metadata document is served as XML only.")
    em = central_odata.entity_model(g.db, form_id)
    return Response(metadata_xml(em), content_type="application/xml")


@bp.get(SERVICE + "/<path:table>")
@requires("submissions.read", authenticators=AUTH)
def data(project_id, form_id, table):
    check_project(project_id)
    name, key = parse_table(table)
    query = parse_query(name, request.args, key=key, prefer=request.headers.get("Prefer"))
    db = open_reader(current_app.config["DATABASE"])  # the document outlives the request
    try:
        db.execute("BEGIN")  # count and rows from one snapshot
        em = central_odata.entity_model(db, form_id)
        doc = central_odata.data_document(
            db, em, query, service_url=_service_url(project_id, form_id),
            request_url=base_url() + "/" + request.path.lstrip("/"), args=request.args)
    except Exception:
        db.close()
        raise

    def body():
        try:
            yield from doc.chunks()
        finally:
            db.close()

    headers = {}
    if query.maxpagesize is not None:
        headers["Preference-Applied"] = f"odata.maxpagesize={query.maxpagesize}"
    return Response(body(), content_type=JSON_TYPE, headers=headers)


def _service_url(project_id: int, form_id: str) -> str:
    return f"{base_url()}/v1/projects/{project_id}/forms/{form_id}.svc"


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)
