"""Who is calling the Central-compatible API: sessions, bearer tokens, Basic.

``central_user`` is the one authenticator of every ``/v1`` route (REST and
OData). It accepts, as ODK Central does,

- ``Authorization: Bearer TOKEN`` where TOKEN is a session from
  ``POST /v1/sessions`` (pyodk, ruODK's token mode) or a fieldsync API token
  (``fieldsync token create``), checked by ``server.accounts.users.authenticate_token``;
- ``Authorization: Basic base64(user:password)`` (Excel, Power BI, ruODK),
  checked on every request by ``server.accounts.login.check_password``.

Passwords are checked only through ``server.accounts`` (so its rules, such as
refusing a disabled account, hold on these doors too); a session stores its
token as sha256 only and lasts ``SESSION_HOURS``, like Central's. Basic sends
the password in clear: use it behind TLS only.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime, timedelta, timezone

from flask import g, request
from sqlite_utils import Database

from server.accounts import login
from server.accounts.auth import sign_in_options
from server.accounts.users import authenticate_token, hash_token
from server.errors import FieldsyncError
from server.central.errors import CentralError
from server.store import audit
from server.store import central as central_q
from server.store import users as users_q
from server.store.clock import utcnow
from server.store.db import write_transaction

SESSION_HOURS = 24


def central_user() -> dict | None:
    """The calling user (``id``, ``name``, ``role``), None without credentials;
    raises ``credentials_invalid`` (401) for credentials that do not check out."""
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if scheme == "bearer" and credentials:
        user = bearer_token_user(g.db, credentials)
    elif scheme == "basic" and credentials:
        user = _basic_user(g.db, credentials)
    else:
        raise CentralError("credentials_invalid", "Send 'Authorization: Bearer TOKEN' or "
                           "Basic credentials (user:password).")
    if user is None:
        raise CentralError("credentials_invalid",
                           "Could not authenticate with the provided credentials.")
    return {k: user[k] for k in ("id", "name", "role", "created_at", "disabled_at")}


def bearer_token_user(db: Database, token: str) -> dict | None:
    """The user of a live session token or of a fieldsync API token."""
    user_id = central_q.session_user_id(db, hash_token(token), utcnow())
    if user_id is not None:
        user = users_q.get_user_by_id(db, user_id)
        return user if user is not None and _active(user) else None
    return authenticate_token(db, token)


def _active(user: dict) -> bool:
    """The one active-account check (``login.require_active``), answered as Central
    does: a retired account cannot authenticate (401), whatever the credential."""
    try:
        login.require_active(user)
    except FieldsyncError:
        return False
    return True


def _basic_user(db: Database, credentials: str) -> dict | None:
    try:
        text = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise CentralError("credentials_invalid", "The Basic credentials are not base64 of "
                           "'user:password'.") from None
    name, sep, password = text.partition(":")
    return _password_user(db, name, password) if sep else None


def _password_user(db: Database, name: str, password: str) -> dict | None:
    """The throttled, logged password check every door uses. A wrong password or a
    disabled account is Central's ``credentials_invalid`` (401, as Central answers
    for a retired user); a throttle keeps its 429 with Retry-After."""
    try:
        return login.check_password(db, name, password, scheme="central", **sign_in_options())
    except FieldsyncError as exc:
        if exc.code in ("auth_failed", "account_disabled"):
            return None
        raise


def session_create(db: Database, email: str, password: str) -> dict:
    """Log in (Central's ``POST /v1/sessions``): a new session token for a user
    whose password checks out. ``email`` is the fieldsync user name."""
    user = _password_user(db, email, password)
    if user is None:
        raise CentralError("credentials_invalid",
                           "Could not authenticate with the provided credentials.")
    token = secrets.token_urlsafe(48)
    now = datetime.now(timezone.utc)
    created, expires = _iso(now), _iso(now + timedelta(hours=SESSION_HOURS))
    with write_transaction(db):
        central_q.insert_session(db, hash_token(token), user["id"], created, expires)
        audit.record(db, user["name"], "session.create", user["name"])
    return {"createdAt": created, "expiresAt": expires, "token": token}


def session_end(db: Database, token: str, user: dict) -> dict:
    """Log out (``DELETE /v1/sessions/{token}``; ``current`` is the caller's own).
    A user ends their own sessions; an admin ends anyone's."""
    if token == "current":
        token = _bearer_token()
    owner = None if user["role"] == "admin" else user["id"]
    with write_transaction(db):
        ended = central_q.end_session(db, hash_token(token), owner, utcnow())
        if ended:
            audit.record(db, user["name"], "session.end", user["name"])
    if not ended:
        raise CentralError("session_unknown", "No live session of yours has that token.")
    return {"success": True}


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise CentralError("session_unknown", "DELETE /v1/sessions/current ends the session "
                           "the request is made with: send its bearer token.")
    return token.strip()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
