"""Users, roles and bearer tokens: the Python API behind `fieldsync user` and `token`.

Passwords are stored with werkzeug's salted scrypt hash; tokens are 256-bit
random strings stored only as their sha256 (a token is high-entropy, so a fast
hash is safe and lets every request authenticate with one indexed lookup).
For OpenRosa Digest authentication the password also sets HA1 =
md5(name:realm:password) (RFC 2617), which Digest needs in place of the
password; it is stored sealed with the server key (server/accounts/keys.py),
kept outside the database file, so a copied store cannot be guessed at MD5
speed.

An account's life: ``user_add``, ``user_disable`` / ``user_enable`` (a disabled
account is refused on every door, its tokens and password kept for when it is
enabled again), ``user_delete`` (the row stays, without credentials, so the
records it sent keep their author and the name is never given to someone
else), ``password_change`` (by the user, who proves the old one) and
``password_reset`` (by an admin). Disabling, deleting and a new password end
the account's sessions (Central API sessions and console sessions) for good:
enabling the account again does not bring them back. Records a user sent are
never touched.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlite_utils import Database
from werkzeug.security import generate_password_hash

from server.accounts import keys, login, throttle
from server.errors import FieldsyncError
from server.store import audit
from server.store import central as central_q
from server.store import logins as logins_q
from server.store import openrosa as openrosa_q
from server.store import users as users_q
from server.store.clock import utcnow

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
        existing = users_q.get_user(db, name)
        if existing is not None:
            gone = (" (a deleted account; names are never reused, so its records keep "
                    "their author)" if existing["deleted_at"] else "")
            raise FieldsyncError("user_exists", f"A user named '{name}' already exists{gone}.")
        user = users_q.insert_user(db, name, role, pw_hash)
        if password:
            store_digest_secret(db, user["id"], name, password)
        audit.record(db, actor, "user.add", name, {"role": role})
    return _public(user)


def set_password(db: Database, name: str, password: str, actor: str | None = None,
                 action: str = "user.password") -> None:
    """Set a user's password (scrypt hash) and its Digest HA1 together."""
    _check_length(password)
    with db.atomic():
        user = _require_user(db, name)
        users_q.set_password_hash(db, user["id"], generate_password_hash(password))
        store_digest_secret(db, user["id"], name, password)
        ended = central_q.end_user_sessions(db, user["id"], utcnow())
        audit.record(db, actor, action, name, {"sessions_ended": ended} if ended else None)


def password_reset(db: Database, name: str, new: str, actor: str | None = None) -> dict:
    """An admin sets a new password for ``name`` (who has forgotten theirs); the
    account's sign-in throttle is lifted with it."""
    with db.atomic():
        set_password(db, name, new, actor=actor, action="user.password_reset")
        logins_q.delete_throttle(db, throttle.user_key(name))
    return user_get(db, name)


def password_change(db: Database, name: str, old: str, new: str, *,
                    address: str = "local", throttled: bool = True) -> dict:
    """The user ``name`` changes their own password, proving the old one (a
    sign-in like any other: throttled, logged when wrong)."""
    _check_length(new)
    login.check_password(db, name, old, address=address, scheme="password_change",
                         throttled=throttled)
    set_password(db, name, new, actor=name, action="user.password_change")
    return user_get(db, name)


def digest_ha1(name: str, password: str) -> str:
    """HA1 of RFC 2617 for this server's realm."""
    return hashlib.md5(f"{name}:{DIGEST_REALM}:{password}".encode("utf-8")).hexdigest()


def store_digest_secret(db: Database, user_id: int, name: str, password: str) -> None:
    """Keep the account's HA1, sealed with the server key."""
    openrosa_q.set_digest_ha1(db, user_id, seal_ha1(db, name, digest_ha1(name, password)))


def seal_ha1(db: Database, name: str, ha1_hex: str) -> str:
    return keys.seal(keys.key_for_store(db), "digest-ha1", bytes.fromhex(ha1_hex),
                     aad=name.encode("utf-8"))


def unseal_ha1(db: Database, name: str, sealed: str | None) -> str | None:
    """The HA1 (hex) of an account, or None if it has none or it was sealed with
    another key (a lost key file: one Basic sign-in sets it again)."""
    if not sealed:
        return None
    plain = keys.unseal(keys.key_for_store(db), "digest-ha1", sealed,
                        aad=name.encode("utf-8"))
    return plain.hex() if plain is not None else None


def seal_plain_ha1(db: Database) -> int:
    """Seal the HA1 values a store from before the server key holds in clear;
    returns how many. Run by `fieldsync serve` before workers start."""
    count = 0
    with db.atomic():
        for user_id, name, value in openrosa_q.digest_ha1_values(db):
            if not keys.is_sealed(value):
                openrosa_q.set_digest_ha1(db, user_id, seal_ha1(db, name, value))
                count += 1
    return count


def user_get(db: Database, name: str) -> dict:
    return _public(_require_user(db, name, deleted_ok=True))


def user_disable(db: Database, name: str, actor: str | None = None) -> dict:
    """Refuse ``name`` on every door from now on (tokens and password are kept
    for ``user_enable``); the records it sent stay as they are."""
    return _set_disabled(db, name, True, actor)


def user_enable(db: Database, name: str, actor: str | None = None) -> dict:
    """Let a disabled account sign in again."""
    return _set_disabled(db, name, False, actor)


def _set_disabled(db: Database, name: str, disabled: bool, actor: str | None) -> dict:
    with db.atomic():
        user = _require_user(db, name)
        if bool(user["disabled_at"]) != disabled:
            now = utcnow()
            users_q.set_disabled(db, user["id"], now if disabled else None)
            ended = central_q.end_user_sessions(db, user["id"], now) if disabled else 0
            audit.record(db, actor, "user.disable" if disabled else "user.enable", name,
                         {"sessions_ended": ended} if ended else None)
    return user_get(db, name)


def user_delete(db: Database, name: str, actor: str | None = None) -> dict:
    """Delete an account: its tokens are revoked, its password and Digest secret
    erased, and it can never sign in again. The row stays (marked deleted) so
    the records it sent keep their author and the name is not reused."""
    with db.atomic():
        user = _require_user(db, name)
        revoked = users_q.revoke_tokens(db, user["id"])
        ended = central_q.end_user_sessions(db, user["id"], utcnow())
        users_q.mark_deleted(db, user["id"])
        logins_q.forget_addresses(db, name=name)
        audit.record(db, actor, "user.delete", name, {"tokens_revoked": revoked,
                                                      "sessions_ended": ended})
    return {**user_get(db, name), "tokens_revoked": revoked}


def _check_length(password: str | None) -> None:
    if password is None or len(password) < MIN_PASSWORD:
        raise FieldsyncError(
            "password_too_short", f"The password needs at least {MIN_PASSWORD} characters."
        )


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


def user_list(db: Database, include_deleted: bool = False) -> list[dict]:
    return [_public(u) for u in users_q.list_users(db, include_deleted)]


def authenticate_token(db: Database, token: str) -> dict | None:
    """The active user of a live token; None for an unknown or revoked token,
    ``account_disabled`` for a disabled account's token."""
    user = users_q.user_for_token(db, hash_token(token))
    return login.require_active(user) if user is not None else None


def _require_user(db: Database, name: str, *, deleted_ok: bool = False) -> dict:
    user = users_q.get_user(db, name)
    if user is None:
        raise FieldsyncError(
            "user_unknown", f"No user named '{name}'; create it with `fieldsync user add`."
        )
    if user["deleted_at"] and not deleted_ok:
        raise FieldsyncError(
            "user_unknown", f"The account '{name}' was deleted; create a new account with "
            "another name.", {"name": name})
    return user


def _public(user: dict) -> dict:
    return {k: user.get(k) for k in ("name", "role", "created_at", "disabled_at",
                                     "deleted_at")}
