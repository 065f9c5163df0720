"""JSON API for accounts and the audit log (admin only)."""

from __future__ import annotations

from flask import Blueprint, g, request
from marshmallow import Schema, fields, validate

from server.accounts import users as accounts
from server.accounts.auth import actor, requires
from server.routes.forms import load_json
from server.routes.params import int_arg
from server.store import audit

bp = Blueprint("admin", __name__, url_prefix="/api/v1")


class UserSchema(Schema):
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(accounts.ROLES))
    password = fields.String(load_default=None)


@bp.get("/users")
@requires("users.manage")
def list_users():
    return {"users": accounts.user_list(g.db)}


@bp.post("/users")
@requires("users.manage")
def add_user():
    body = load_json(UserSchema())
    return accounts.user_add(g.db, body["name"], body["role"], body["password"],
                             actor=actor()), 201


@bp.post("/users/<name>/tokens")
@requires("users.manage")
def create_token(name):
    return {"name": name, "token": accounts.token_create(g.db, name, actor=actor())}, 201


@bp.delete("/users/<name>/tokens")
@requires("users.manage")
def revoke_tokens(name):
    return {"name": name, "revoked": accounts.token_revoke(g.db, name, actor=actor())}


@bp.get("/audit")
@requires("audit.read")
def audit_log():
    limit = int_arg("limit", 100, 1000)
    return {"entries": audit.entries(g.db, request.args.get("action"), limit)}
