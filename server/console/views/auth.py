"""Sign-in and sign-out."""

from __future__ import annotations

import math

from flask import g, redirect, request, session, url_for

from server.console.blueprint import bp, page, render, safe_next
from server.console.session import end_session, sign_in, start_session
from server.errors import FieldsyncError

# refusals the sign-in page explains itself (the rest are error pages)
SHOWN = ("login_throttled", "account_disabled")


@bp.route("/login", methods=["GET", "POST"])
@page("public")
def login():
    target = request.values.get("next") or ""
    if request.method == "GET":
        return render("login.html", next=target, username="", problem=None)
    name = request.form.get("username", "").strip()
    try:
        user = sign_in(g.db, name, request.form.get("password", ""))
    except FieldsyncError as exc:
        if exc.code not in SHOWN:
            raise
        return refused(exc, target, name)
    if user is None:
        return render("login.html", next=target, username=name, problem="auth_failed"), 401
    start_session(user, session.get("lang"))
    return redirect(safe_next(target) if target else landing(user["role"]))


def refused(exc: FieldsyncError, target: str, name: str):
    """The sign-in page saying why: throttled (429, with Retry-After and the
    minutes to wait) or a disabled account (403)."""
    seconds = int(exc.details.get("retry_after") or 0)
    html = render("login.html", next=target, username=name, problem=exc.code,
                  minutes=max(1, math.ceil(seconds / 60)))
    headers = {"Retry-After": str(seconds)} if exc.code == "login_throttled" else {}
    return html, exc.status, headers


def landing(role: str) -> str:
    """Where a sign-in without a page to go back to leads: the page each role opens
    first (HQ analysts look at the score charts; enumerators and peers, whose
    roles see no office page, at the forms)."""
    if role == "analyst":
        return url_for("console.scores")
    if role in ("enumerator", "peer"):
        return url_for("console.forms")
    return url_for("console.overview")


@bp.post("/logout")
@page("public")
def logout():
    end_session()
    return redirect(url_for("console.login"))
