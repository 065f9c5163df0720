"""The console's blueprint and what every console page shares: CSRF on every
form, a strict Content-Security-Policy, the language switch, and errors shown
as pages (a sign-in redirect for 401, a translated page for the rest).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from server.accounts.auth import PERMISSIONS, requires
from server.console.session import session_user
from server.errors import FieldsyncError
from server.i18n import LANGUAGES, current_language
from server.i18n.errors import error_message
from server.store import preferences as prefs_q

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console/static")
csrf = CSRFProtect()
AUTHENTICATORS = (session_user,)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; object-src 'none'")


def page(permission: str):
    """``@requires`` with the console's cookie-session authenticator."""
    return requires(permission, authenticators=AUTHENTICATORS)


def may(permission: str) -> bool:
    """Whether the signed-in user's role holds ``permission`` (for links and buttons)."""
    user = g.get("user")
    return bool(user) and user["role"] in PERMISSIONS[permission]


@bp.record_once
def _install(state) -> None:
    app = state.app
    app.extensions.setdefault("fieldsync_error_renderers", {})["console"] = _render_error
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # the JSON API uses tokens
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid as long as the session
    csrf.init_app(app)


@bp.before_request
def _before() -> None:
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
    if request.method == "POST":
        try:
            csrf.protect()
        except CSRFError:
            raise FieldsyncError("csrf_failed", "This form has expired or did not come from "
                                 "this console: reload the page and send it again.") from None


@bp.after_request
def _headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Language"] = current_language()
    return response


def render(template: str, **context):
    """Render a page; remember a ``?lang=`` choice for the signed-in user."""
    user = g.get("user")
    lang = request.args.get("lang")
    if user and lang in LANGUAGES and user.get("language") != lang:
        with g.db.atomic():
            prefs_q.set_language(g.db, user["id"], lang)
        user["language"] = lang
    return render_template(template, may=may, **context)


def safe_next(target: str | None) -> str:
    """A same-site path to go back to after signing in (never another host)."""
    if not target:
        return url_for("console.overview")
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target)):  # "/\\host" is "//host"
        return url_for("console.overview")
    return target


def _render_error(status: int, code: str, message: str, details: dict):
    if status == 401:
        if request.method == "GET":
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
        return redirect(url_for("console.login"))
    text = error_message(code, message)
    response = render_template("error.html", status=status, code=code, message=text,
                               details=details, may=may)
    return response, status
