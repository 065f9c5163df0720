"""Signing in: who may, with what, and what a failure costs.

Every door that takes a name and a password (OpenRosa Basic, the web console's
login form, a user changing their password) calls ``check_password``; OpenRosa
Digest, which proves the password without sending it, uses ``begin`` and the
``Attempt`` it returns. Both:

- pass the throttle first (``server.accounts.throttle``): a blocked account or
  address is refused with 429 ``login_throttled`` before any hash runs;
- cost the same for an unknown name as for a real one (a wrong password runs
  scrypt against a stand-in hash), so names cannot be listed by timing;
- log every failure with the name tried, the client address and the scheme
  (logger ``fieldsync.auth``; never the password);
- end in ``require_active``, the one check every authenticator (bearer, Basic,
  Digest, a console session) makes that the account may act: a disabled or
  deleted account is refused with ``account_disabled`` even with the right
  password or a live token.

    user = check_password(db, "enum1", "secret", address="10.0.0.7")
    # -> {"id", "name", "role", "created_at", "disabled_at"}, or FieldsyncError
    #    auth_failed (401), login_throttled (429), account_disabled (403)

A verified password is remembered in this process for ``VERIFIED_TTL`` seconds
(as a salted sha256 of name, stored hash and password), so a device that sends
Basic credentials with every request costs one scrypt per five minutes; a
changed password changes the stored hash and so misses.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from functools import lru_cache

from sqlite_utils import Database
from werkzeug.security import check_password_hash, generate_password_hash

from server.accounts import throttle
from server.errors import FieldsyncError
from server.store import users as users_q

VERIFIED_TTL = 300
VERIFIED_MAX = 4096
PUBLIC_KEYS = ("id", "name", "role", "created_at", "disabled_at")

log = logging.getLogger("fieldsync.auth")


def require_active(user: dict | None) -> dict:
    """The user, if the account may act; ``account_disabled`` otherwise."""
    if user is None:
        raise FieldsyncError("auth_failed", "Unknown user or wrong password.")
    if user.get("disabled_at") or user.get("deleted_at"):
        raise FieldsyncError(
            "account_disabled",
            f"The account '{user['name']}' is disabled; ask an admin to enable it.",
            {"name": user["name"]})
    return {k: user[k] for k in PUBLIC_KEYS}


class Attempt:
    """One sign-in that passed the throttle; report how it ended."""

    def __init__(self, db: Database, name: str, address: str, scheme: str, throttled: bool):
        self.db, self.name, self.address, self.scheme = db, name, address, scheme
        self.gate = throttle.gate(db, name, address) if throttled else None

    def failed(self, reason: str) -> None:
        """Count and log the failure; the caller then refuses the request."""
        if self.gate is not None:
            throttle.failed(self.db, self.gate)
        log.warning("login_failed", extra={"fields": {
            "user_tried": self.name[:throttle.MAX_NAME_IN_KEY], "address": self.address,
            "scheme": self.scheme, "reason": reason}})

    def succeeded(self, user: dict) -> dict:
        """The public user once the account is known to be active."""
        public = require_active(user)
        if self.gate is not None:
            throttle.succeeded(self.db, self.gate)
        return public


def begin(db: Database, name: str, *, address: str, scheme: str,
          throttled: bool = True) -> Attempt:
    """Start a sign-in (raises ``login_throttled`` when blocked)."""
    return Attempt(db, name or "", address or "unknown", scheme, throttled)


def check_password(db: Database, name: str, password: str, *, address: str,
                   scheme: str = "password", throttled: bool = True,
                   on_verified: Callable[[dict, str], None] | None = None) -> dict:
    """The active user whose name and password these are, or a refusal.

    ``on_verified(user, password)`` runs when the password was checked against
    its hash (not answered from the cache): OpenRosa uses it to set a Digest
    secret for an account that lacks one."""
    attempt = begin(db, name, address=address, scheme=scheme, throttled=throttled)
    user = users_q.get_user(db, name) if name else None
    stored = user["password_hash"] if user is not None else None
    matched, verified_now = _password_matches(name, stored, password)
    if not matched:
        attempt.failed("unknown user" if user is None else
                       "no password set" if not stored else "wrong password")
        raise FieldsyncError("auth_failed", "Unknown user or wrong password.")
    public = attempt.succeeded(user)
    if verified_now and on_verified is not None:
        on_verified(user, password)
    return public


# Password hashes ------------------------------------------------------------------

_salt = secrets.token_bytes(32)  # per process: cache keys mean nothing elsewhere
_verified: dict[bytes, float] = {}
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _stand_in_hash() -> str:
    """A hash made like real ones, checked when there is no real one: same cost.
    Made on the first unknown name a process sees (that one request costs a hash
    more), not at start, where every server start would pay for it."""
    return generate_password_hash(secrets.token_urlsafe(16))


def _password_matches(name: str, stored: str | None, password: str) -> tuple[bool, bool]:
    """(matches, checked against the hash now rather than from the cache)."""
    if stored:
        key = hashlib.sha256(_salt + "\0".join((name, stored, password)).encode(
            "utf-8", "surrogatepass")).digest()
        expires = _verified.get(key)
        if expires is not None and expires > time.monotonic():
            return True, False
        if check_password_hash(stored, password):
            with _lock:
                if len(_verified) >= VERIFIED_MAX:
                    _verified.clear()
                _verified[key] = time.monotonic() + VERIFIED_TTL
            return True, True
        return False, True
    check_password_hash(_stand_in_hash(), password)
    return False, True

