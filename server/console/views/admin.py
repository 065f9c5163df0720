"""Accounts (admin): users, roles, tokens, disable and enable, delete, password
reset, sign-in throttles, and the audit log; and one's own account (any signed-in
person changes their own password).

Every action calls the same Python function as the JSON API and the CLI
(``server.accounts.users``, ``server.accounts.throttle``), which records it in
the audit log; every form carries the console's CSRF token.
"""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for

from server.accounts import throttle
from server.accounts import users as accounts
from server.accounts.auth import actor, sign_in_options
from server.console.blueprint import bp, may, page, render
from server.console.session import renew_session
from server.errors import FieldsyncError
from server.i18n import gettext as _
from server.i18n.errors import error_message
from server.http.params import int_arg
from server.store import audit

AUDIT_ACTIONS = ("user.add", "user.disable", "user.enable", "user.delete",
                 "user.password_reset", "user.password_change", "token.create",
                 "token.revoke", "throttle.clear", "session.create", "form.publish",
                 "form.state", "submission.review", "duplicate.resolve", "duplicates.rules",
                 "outbox.retry", "upstream.set")


def _page(new_token: dict | None = None):
    action = request.args.get("action") or None
    entries = audit.entries(g.db, action, int_arg("limit", 100, 1000)) \
        if may("audit.read") else []
    return render("users/page.html", users=accounts.user_list(g.db), roles=accounts.ROLES,
                  throttles=throttle.list_throttles(g.db), entries=entries, action=action,
                  actions=AUDIT_ACTIONS, new_token=new_token)


def _back():
    return redirect(url_for("console.users"))


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
    return _back()


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
    return _back()


@bp.post("/users/<name>/disable")
@page("users.manage")
def user_disable(name):
    accounts.user_disable(g.db, name, actor=actor())
    flash(_("%(name)s is disabled: refused on every door from now on. The records it "
            "sent stay.", name=name), "ok")
    return _back()


@bp.post("/users/<name>/enable")
@page("users.manage")
def user_enable(name):
    accounts.user_enable(g.db, name, actor=actor())
    flash(_("%(name)s can sign in again.", name=name), "ok")
    return _back()


@bp.get("/users/<name>/delete")
@page("users.manage")
def user_delete_confirm(name):
    """The confirmation step: deleting cannot be undone."""
    return render("users/delete.html", user=accounts.user_get(g.db, name))


@bp.post("/users/<name>/delete")
@page("users.manage")
def user_delete(name):
    if request.form.get("confirm") != name:
        raise FieldsyncError("validation_failed", "Confirm the deletion on its own page "
                             "(the form sends confirm=NAME).",
                             {"fields": {"confirm": ["must be the user name"]}})
    gone = accounts.user_delete(g.db, name, actor=actor())
    flash(_("%(name)s is deleted (%(count)s token(s) revoked). The records it sent keep "
            "it as their author.", name=name, count=gone["tokens_revoked"]), "ok")
    return _back()


@bp.post("/users/<name>/password")
@page("users.manage")
def password_reset(name):
    accounts.password_reset(g.db, name, request.form.get("password", ""), actor=actor())
    if name == g.user["name"]:
        renew_session(g.db, g.user["id"])
    flash(_("New password set for %(name)s; its sign-in throttle is lifted.", name=name),
          "ok")
    return _back()


@bp.post("/throttles/clear")
@page("users.manage")
def throttle_clear():
    key = request.form.get("key", "")
    throttle.clear(g.db, key, actor=actor())
    flash(_("Throttle %(key)s lifted.", key=key), "ok")
    return _back()


@bp.get("/account")
@page("account.self")
def account():
    return render("users/account.html", problem=None)


@bp.post("/account/password")
@page("account.self")
def account_password():
    """Change one's own password, proving the old one (a throttled sign-in); this
    browser stays signed in, the account's other sessions end."""
    form = request.form
    new = form.get("new_password", "")
    try:
        if new != form.get("repeat_password", ""):
            raise FieldsyncError("validation_failed", "The new password and its repetition "
                                 "differ.", {"fields": {"repeat_password": ["differs"]}})
        accounts.password_change(g.db, g.user["name"], form.get("old_password", ""), new,
                                 **sign_in_options())
    except FieldsyncError as exc:
        return _account_refused(exc)
    renew_session(g.db, g.user["id"])
    flash(_("Your password is changed. Your other sessions are signed out."), "ok")
    return redirect(url_for("console.account"))


def _account_refused(exc: FieldsyncError):
    """The account page again, saying what to fix (a wrong current password is
    not a reason to leave the page for the sign-in page)."""
    messages = {
        "auth_failed": _("The current password is wrong."),
        "validation_failed": _("The new password and its repetition differ."),
    }
    if exc.code not in messages and exc.code not in ("password_too_short", "login_throttled"):
        raise exc
    problem = messages.get(exc.code) or error_message(exc.code, exc.message)
    headers = {"Retry-After": str(exc.details["retry_after"])} \
        if exc.code == "login_throttled" else {}
    return render("users/account.html", problem=problem), \
        400 if exc.status == 401 else exc.status, headers
