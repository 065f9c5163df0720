"""Signing in to the console: a signed cookie session, checked on every request.

``sign_in`` checks a console password through ``server.accounts.login.check_password``,
the throttled, logged check every door uses. The session holds the user's id,
a fingerprint of the password hash it was opened with, and when it was opened
and last used. ``session_user`` (an authenticator for ``@requires``) reloads
the user on every request, passes it to ``login.require_active`` (the one
active-account check of every door) and ends the session when the account is
gone, disabled or deleted, its password changed, an admin cut its sessions off
(``sessions_ended_at``: disabling ends them for good, enabling does not bring
them back), it was idle longer than ``CONSOLE_IDLE_MINUTES`` or is older than
``PERMANENT_SESSION_LIFETIME``.

The cookie is HttpOnly, SameSite=Lax, and Secure when the request came over
TLS (directly or through a proxy that says so in X-Forwarded-Proto).
"""

from __future__ import annotations

import hashlib
import time

from flask import current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlite_utils import Database

from server.accounts import login
from server.accounts.auth import sign_in_options
from server.errors import FieldsyncError
from server.store import preferences as prefs_q
from server.store import users as users_q

IDLE_MINUTES = 120
TOUCH_EVERY_S = 60  # rewrite the "last used" time at most this often


def sign_in(db: Database, name: str, password: str) -> dict | None:
    """The active user whose name and password these are, or None for a wrong
    pair. Throttled and logged as every door's sign-in is (``login_throttled``
    and ``account_disabled`` are raised for the page to show)."""
    try:
        user = login.check_password(db, name, password, scheme="console", **sign_in_options())
    except FieldsyncError as exc:
        if exc.code == "auth_failed":
            return None
        raise
    return users_q.get_user_by_id(db, user["id"])  # the row: the session keeps its hash's print


def start_session(user: dict, lang: str | None = None) -> None:
    session.clear()
    now = int(time.time())
    session.update({"uid": user["id"], "pw": _fingerprint(user), "at": now, "seen": now})
    if lang:
        session["lang"] = lang
    session.permanent = True


def renew_session(db: Database, user_id: int) -> None:
    """Keep this browser signed in after its own user's new password (which ends
    every other session of the account)."""
    start_session(users_q.get_user_by_id(db, user_id), session.get("lang"))


def end_session() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def session_user() -> dict | None:
    """The console's authenticator: the signed-in user, re-read from the store."""
    if current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return None
    uid = session.get("uid")
    if uid is None:
        return None
    now = int(time.time())
    idle = current_app.config.get("CONSOLE_IDLE_MINUTES", IDLE_MINUTES) * 60
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    row = users_q.get_user_by_id(g.db, uid)
    try:
        user = login.require_active(row)
    except FieldsyncError:  # gone, disabled or deleted: signed out, not refused
        end_session()
        return None
    if (session.get("pw") != _fingerprint(row) or now - session.get("seen", 0) > idle
            or now - session.get("at", 0) > lifetime):
        end_session()
        return None
    if now - session.get("seen", 0) > TOUCH_EVERY_S:
        session["seen"] = now
    user = {k: user[k] for k in ("id", "name", "role", "created_at")}
    user["language"] = prefs_q.language_of(g.db, uid)
    return user


def _fingerprint(user: dict) -> str:
    """Changes when the password does or an admin ends the account's sessions
    (disable, delete), so either ends the sessions opened before."""
    text = user["password_hash"] or ""
    if user.get("sessions_ended_at"):
        text += "\0" + user["sessions_ended_at"]
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request arrived over TLS."""

    def get_cookie_secure(self, app) -> bool:
        forwarded = request.headers.get("X-Forwarded-Proto", "").lower()
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure
                    or forwarded == "https")
