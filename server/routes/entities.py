"""JSON API for entity lists, their conflicts, teams and due lists.

Thin routes: parse the query or body, check the permission, call one function
of ``server.entities``, render its answer. Tablets receive lists through the
OpenRosa manifest (server/routes/openrosa.py), not here.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, request
from marshmallow import Schema, fields, validate

from server.accounts.auth import actor, requires
from server.entities import conflicts, due, imports, lists
from server.errors import FieldsyncError
from server.http.params import int_arg, load_json
from server.http.streams import closing_after, disposition, own_connection

bp = Blueprint("entities", __name__, url_prefix="/api/v1")
TRUE = ("1", "true", "yes")


class ListSchema(Schema):
    key_property = fields.String(load_default=None, allow_none=True)


class ResolveSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(conflicts.ACTIONS))
    comment = fields.String(load_default=None, allow_none=True)
    properties = fields.Dict(keys=fields.String(), values=fields.String(),
                             load_default=None, allow_none=True)


class TeamSchema(Schema):
    members = fields.List(fields.String(), required=True)


class RoundSchema(Schema):
    name = fields.String(required=True)
    months = fields.Integer(required=True, strict=True)


class ScheduleSchema(Schema):
    list = fields.String()
    round_field = fields.String()
    anchor = fields.String()
    rounds = fields.List(fields.Nested(RoundSchema))
    due_before_days = fields.Integer(strict=True)
    overdue_after_days = fields.Integer(strict=True)


@bp.get("/lists")
@requires("entities.read")
def lists_list():
    return {"lists": lists.lists_list(g.db)}


@bp.get("/lists/<name>")
@requires("entities.read")
def list_get(name):
    return lists.list_get(g.db, name)


@bp.put("/lists/<name>")
@requires("entities.manage")
def list_set(name):
    body = load_json(ListSchema())
    return lists.list_set(g.db, name, key_property=body["key_property"], actor=actor())


@bp.get("/lists/<name>/entities/<entity_id>")
@requires("entities.read")
def entity_get(name, entity_id):
    return lists.entity_get(g.db, name, entity_id)


@bp.get("/lists/<name>/export")
@requires("entities.read")
def list_export(name):
    with own_connection() as db:
        chunks = lists.list_export(db, name)
    return Response(closing_after(db, chunks), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition(f"{name}.csv")})


@bp.post("/lists/<name>/import")
@requires("entities.manage")
def entities_import(name):
    upload = request.files.get("file")
    data = upload.read(imports.MAX_IMPORT_BYTES + 1) if upload else request.get_data(
        cache=False)
    if not data:
        raise FieldsyncError("file_missing", "Send the CSV as a multipart field named 'file' "
                             "or as the body (Content-Type text/csv).")
    answer = imports.entities_import(
        g.db, name, data, key=request.args.get("key"),
        label_column=request.args.get("label_column") or "label",
        assignee_column=request.args.get("assignee_column") or "assignee",
        dry_run=request.args.get("dry_run", "true").lower() in TRUE, actor=actor())
    return answer, 200 if answer["dry_run"] else 201


@bp.get("/entity-conflicts")
@requires("entities.read")
def conflicts_list():
    return conflicts.conflicts_list(g.db, request.args.get("list"),
                                    request.args.get("status", "open"),
                                    limit=int_arg("limit", 100, 1000), after=int_arg("after", 0))


@bp.get("/entity-conflicts/<int:conflict_id>")
@requires("entities.read")
def conflict_get(conflict_id):
    return conflicts.conflict_get(g.db, conflict_id)


@bp.post("/entity-conflicts/<int:conflict_id>/resolve")
@requires("entities.manage")
def conflict_resolve(conflict_id):
    body = load_json(ResolveSchema())
    return conflicts.conflict_resolve(g.db, conflict_id, body["action"],
                                      comment=body["comment"],
                                      properties=body["properties"], actor=actor())


@bp.get("/teams")
@requires("entities.read")
def teams_list():
    return {"teams": lists.teams_list(g.db)}


@bp.put("/teams/<team>")
@requires("entities.manage")
def team_set(team):
    body = load_json(TeamSchema())
    return lists.team_set(g.db, team, body["members"], actor=actor())


@bp.get("/forms/<name:form_id>/due")
@requires("due.read")
def due_list(form_id):
    assignee = request.args.get("assignee") or None
    if g.user["role"] == "enumerator":
        assignee = g.user["name"]  # an enumerator sees their own cases
    return due.due_list(g.db, form_id, status=request.args.get("status") or None,
                        assignee=assignee, on=request.args.get("on") or None,
                        limit=int_arg("limit", 500, 5000), after=int_arg("after", 0))


@bp.get("/forms/<name:form_id>/due/schedule")
@requires("due.read")
def schedule_get(form_id):
    return due.schedule_get(g.db, form_id)


@bp.put("/forms/<name:form_id>/due/schedule")
@requires("entities.manage")
def schedule_set(form_id):
    return due.schedule_set(g.db, form_id, load_json(ScheduleSchema()), actor=actor())
