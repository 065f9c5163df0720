"""Users, roles and bearer tokens: the Python API behind `fieldsync user` and `token`.

Passwords are stored with werkzeug's salted scrypt hash; tokens are 256-bit
random strings stored only as their sha256 (a token is high-entropy, so a fast
hash is safe and lets every request authenticate with one indexed lookup).
For OpenRosa Digest authentication the password also sets HA1 =
md5(name:realm:password) (RFC 2617), which Digest needs in place of the password.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlite_utils import Database
from werkzeug.security import check_password_hash, generate_password_hash

from server.errors import FieldsyncError
from server.store import audit
from server.store import openrosa as openrosa_q
from server.store import users as users_q

ROLES = ("admin", "supervisor", "enumerator", "analyst", "peer")
NAME_RE = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
MIN_PASSWORD = 8
DIGEST_REALM = "fieldsync"  # part of every stored HA1: changing it needs new passwords


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def user_add(db: Database, name: str, role: str, password: str | None = None,
             actor: str | None = None) -> dict:
    """Create a user with a role; the password is optional (token-only accounts)."""
    if role not in ROLES:
        raise FieldsyncError(
            "role_unknown", f"Unknown role '{role}'; use one of: {', '.join(ROLES)}."
        )
    if not NAME_RE.match(name or ""):
        raise FieldsyncError(
            "validation_failed",
            "A user name is 1-64 letters, digits or . _ - @; pick another name.",
        )
    if password is not None and len(password) < MIN_PASSWORD:
        raise FieldsyncError(
            "password_too_short", f"The password needs at least {MIN_PASSWORD} characters."
        )
    pw_hash = generate_password_hash(password) if password else None
    with db.atomic():
        if users_q.get_user(db, name) is not None:
            raise FieldsyncError("user_exists", f"A user named '{name}' already exists.")
        user = users_q.insert_user(db, name, role, pw_hash)
        if password:
            openrosa_q.set_digest_ha1(db, user["id"], digest_ha1(name, password))
        audit.record(db, actor, "user.add", name, {"role": role})
    return _public(user)


def set_password(db: Database, name: str, password: str, actor: str | None = None) -> None:
    """Set a user's password (scrypt hash) and its Digest HA1 together."""
    if password is None or len(password) < MIN_PASSWORD:
        raise FieldsyncError(
            "password_too_short", f"The password needs at least {MIN_PASSWORD} characters."
        )
    with db.atomic():
        user = _require_user(db, name)
        users_q.set_password_hash(db, user["id"], generate_password_hash(password))
        openrosa_q.set_digest_ha1(db, user["id"], digest_ha1(name, password))
        audit.record(db, actor, "user.password", name)


def digest_ha1(name: str, password: str) -> str:
    """HA1 of RFC 2617 for this server's realm."""
    return hashlib.md5(f"{name}:{DIGEST_REALM}:{password}".encode("utf-8")).hexdigest()


def token_create(db: Database, name: str, actor: str | None = None) -> str:
    """Issue a new bearer token for ``name``; the plain token is returned once."""
    token = secrets.token_urlsafe(32)
    with db.atomic():
        user = _require_user(db, name)
        users_q.insert_token(db, user["id"], hash_token(token))
        audit.record(db, actor, "token.create", name)
    return token


def token_revoke(db: Database, name: str, actor: str | None = None) -> int:
    """Revoke every live token of ``name``; returns how many were revoked."""
    with db.atomic():
        user = _require_user(db, name)
        count = users_q.revoke_tokens(db, user["id"])
        audit.record(db, actor, "token.revoke", name, {"count": count})
    return count


def user_list(db: Database) -> list[dict]:
    return [_public(u) for u in users_q.list_users(db)]


def authenticate_token(db: Database, token: str) -> dict | None:
    return users_q.user_for_token(db, hash_token(token))


def authenticate_password(db: Database, name: str, password: str) -> dict | None:
    user = users_q.get_user(db, name)
    if user is None or user["disabled_at"] or not user["password_hash"]:
        return None
    return user if check_password_hash(user["password_hash"], password) else None


def _require_user(db: Database, name: str) -> dict:
    user = users_q.get_user(db, name)
    if user is None:
        raise FieldsyncError(
            "user_unknown", f"No user named '{name}'; create it with `fieldsync user add`."
        )
    return user


def _public(user: dict) -> dict:
    return {k: user[k] for k in ("name", "role", "created_at", "disabled_at")}
