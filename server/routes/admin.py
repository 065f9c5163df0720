"""JSON API for accounts, sign-in throttles and the audit log.

Admins manage accounts (``users.manage``); any signed-in person changes their
own password (``account.self``).
"""

from __future__ import annotations

from flask import Blueprint, g, request
from marshmallow import Schema, fields, validate

from server.accounts import throttle
from server.accounts import users as accounts
from server.accounts.auth import actor, requires, sign_in_options
from server.http.params import int_arg, load_json
from server.store import audit

bp = Blueprint("admin", __name__, url_prefix="/api/v1")


class UserSchema(Schema):
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(accounts.ROLES))
    password = fields.String(load_default=None)


class PasswordResetSchema(Schema):
    password = fields.String(required=True)


class PasswordChangeSchema(Schema):
    old_password = fields.String(required=True)
    new_password = fields.String(required=True)


@bp.get("/users")
@requires("users.manage")
def list_users():
    include = request.args.get("include") == "deleted"
    return {"users": accounts.user_list(g.db, include_deleted=include)}


@bp.post("/users")
@requires("users.manage")
def add_user():
    body = load_json(UserSchema())
    return accounts.user_add(g.db, body["name"], body["role"], body["password"],
                             actor=actor()), 201


@bp.post("/users/<name>/disable")
@requires("users.manage")
def disable_user(name):
    return accounts.user_disable(g.db, name, actor=actor())


@bp.post("/users/<name>/enable")
@requires("users.manage")
def enable_user(name):
    return accounts.user_enable(g.db, name, actor=actor())


@bp.delete("/users/<name>")
@requires("users.manage")
def delete_user(name):
    return accounts.user_delete(g.db, name, actor=actor())


@bp.post("/users/<name>/password")
@requires("users.manage")
def reset_password(name):
    body = load_json(PasswordResetSchema())
    return accounts.password_reset(g.db, name, body["password"], actor=actor())


@bp.post("/account/password")
@requires("account.self")
def change_own_password():
    body = load_json(PasswordChangeSchema())
    return accounts.password_change(g.db, g.user["name"], body["old_password"],
                                    body["new_password"], **sign_in_options())


@bp.post("/users/<name>/tokens")
@requires("users.manage")
def create_token(name):
    return {"name": name, "token": accounts.token_create(g.db, name, actor=actor())}, 201


@bp.delete("/users/<name>/tokens")
@requires("users.manage")
def revoke_tokens(name):
    return {"name": name, "revoked": accounts.token_revoke(g.db, name, actor=actor())}


@bp.get("/throttles")
@requires("users.manage")
def list_throttles():
    return {"throttles": throttle.list_throttles(g.db)}


@bp.delete("/throttles/<path:key>")
@requires("users.manage")
def clear_throttle(key):
    return throttle.clear(g.db, key, actor=actor())


@bp.get("/audit")
@requires("audit.read")
def audit_log():
    limit = int_arg("limit", 100, 1000)
    return {"entries": audit.entries(g.db, request.args.get("action"), limit)}
