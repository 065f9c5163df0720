"""Accounts (admin): users, roles, tokens, and the audit log."""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for

from server.accounts import users as accounts
from server.accounts.auth import actor
from server.console.blueprint import bp, may, page, render
from server.i18n import gettext as _
from server.routes.params import int_arg
from server.store import audit

AUDIT_ACTIONS = ("user.add", "user.password", "token.create", "token.revoke",
                 "form.publish", "form.state", "submission.review", "duplicate.resolve",
                 "duplicates.rules", "outbox.retry", "upstream.set", "console.login_failed")


def _page(new_token: dict | None = None):
    action = request.args.get("action") or None
    entries = audit.entries(g.db, action, int_arg("limit", 100, 1000)) \
        if may("audit.read") else []
    return render("users/page.html", users=accounts.user_list(g.db), roles=accounts.ROLES,
                  entries=entries, action=action, actions=AUDIT_ACTIONS, new_token=new_token)


@bp.get("/users")
@page("users.manage")
def users():
    return _page()


@bp.post("/users")
@page("users.manage")
def user_add():
    form = request.form
    created = accounts.user_add(g.db, form.get("name", "").strip(), form.get("role", ""),
                                form.get("password") or None, actor=actor())
    flash(_("User %(name)s created.", name=created["name"]), "ok")
    return redirect(url_for("console.users"))


@bp.post("/users/<name>/tokens")
@page("users.manage")
def token_create(name):
    token = accounts.token_create(g.db, name, actor=actor())
    return _page(new_token={"name": name, "token": token})


@bp.post("/users/<name>/tokens/revoke")
@page("users.manage")
def token_revoke(name):
    count = accounts.token_revoke(g.db, name, actor=actor())
    flash(_("%(count)s token(s) of %(name)s revoked.", count=count, name=name), "ok")
    return redirect(url_for("console.users"))
