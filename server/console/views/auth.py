"""Sign-in and sign-out."""

from __future__ import annotations

from flask import g, redirect, request, session, url_for

from server.console.blueprint import bp, page, render, safe_next
from server.console.session import end_session, sign_in, start_session


@bp.route("/login", methods=["GET", "POST"])
@page("public")
def login():
    target = request.values.get("next") or ""
    if request.method == "GET":
        return render("login.html", next=target, username="", failed=False)
    name = request.form.get("username", "").strip()
    user = sign_in(g.db, name, request.form.get("password", ""))
    if user is None:
        return render("login.html", next=target, username=name, failed=True), 401
    start_session(user, session.get("lang"))
    return redirect(safe_next(target) if target else landing(user["role"]))


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
