"""Basic and Digest authenticators for ``requires(..., authenticators=...)``.

Each returns the user (``id``, ``name``, ``role``) when the request carries its
scheme and valid credentials, None when the request uses another scheme, and
raises ``OpenRosaError`` (401, answered with fresh challenges) when the
credentials are wrong.

Neither costs a password hash per request. Digest compares md5 responses
against the stored HA1. Basic checks the scrypt hash once, then remembers
sha256(secret salt, user, stored hash, password) for ``BASIC_CACHE_TTL``
seconds in this process, so a repeat request costs one hash lookup; a changed
password changes the stored hash and so misses the cache. Basic sends the
password in clear: use it only behind TLS (docs/openrosa.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from urllib.parse import urlsplit

from flask import current_app, g, request
from werkzeug.security import check_password_hash

from server.accounts.users import DIGEST_REALM, digest_ha1
from server.openrosa import digest
from server.openrosa.errors import OpenRosaError
from server.store import openrosa as openrosa_q

BASIC_CACHE_TTL = 300
BASIC_CACHE_MAX = 4096
_STATE_KEY = "fieldsync_openrosa_auth"


class AuthState:
    """Per-process: the nonce signer and the Basic credentials cache."""

    def __init__(self, secret: bytes):
        self.nonces = digest.Nonces(secret)
        self.salt = hashlib.sha256(b"basic-cache" + secret).digest()
        self.basic_ok: dict[bytes, float] = {}
        self.lock = threading.Lock()

    def basic_key(self, name: str, stored_hash: str, password: str) -> bytes:
        text = "\0".join((name, stored_hash, password)).encode("utf-8")
        return hashlib.sha256(self.salt + text).digest()

    def basic_cached(self, key: bytes) -> bool:
        expires = self.basic_ok.get(key)
        return expires is not None and expires > time.monotonic()

    def remember_basic(self, key: bytes) -> None:
        with self.lock:
            if len(self.basic_ok) >= BASIC_CACHE_MAX:
                self.basic_ok.clear()
            self.basic_ok[key] = time.monotonic() + BASIC_CACHE_TTL


def auth_state() -> AuthState:
    state = current_app.extensions.get(_STATE_KEY)
    if state is None:
        state = AuthState(openrosa_q.server_secret(g.db, "digest"))
        current_app.extensions[_STATE_KEY] = state
    return state


def challenges(stale: bool = False) -> list[tuple[str, str]]:
    """The WWW-Authenticate headers of a 401: Digest first, then Basic."""
    nonces = auth_state().nonces
    return [
        ("WWW-Authenticate", digest.challenge(DIGEST_REALM, nonces.issue(), nonces.opaque,
                                              stale)),
        ("WWW-Authenticate", f'Basic realm="{DIGEST_REALM}", charset="UTF-8"'),
    ]


def digest_user() -> dict | None:
    params = digest.parse_authorization(request.headers.get("Authorization", ""))
    if params is None:
        return None
    _check_digest_params(params)
    nonces = auth_state().nonces
    check = nonces.check(params["nonce"])
    if not check.valid:
        raise _digest_error("The Digest nonce was not issued by this server; retry.")
    if check.stale:
        raise OpenRosaError("nonce_stale", "The Digest nonce has expired; retry with the "
                            "new one.", {"stale": True})
    user = openrosa_q.user_with_ha1(g.db, params["username"])
    if user is None or user["disabled_at"] or not user["digest_ha1"]:
        raise _digest_error("Unknown user or wrong password. An account made before Digest "
                            "support signs in once with Basic (over TLS) or gets a new "
                            "password to enable Digest.")
    expected = digest.expected_response(params, user["digest_ha1"], request.method)
    if not hmac.compare_digest(expected, params["response"].lower()):
        raise _digest_error("Unknown user or wrong password.")
    if not nonces.first_use(params["nonce"], params["nc"], params["cnonce"]):
        raise OpenRosaError("nonce_stale", "This Digest response was already used; retry "
                            "with a new nonce count.", {"stale": True})
    return _public(user)


def basic_user() -> dict | None:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        name, sep, password = base64.b64decode(encoded.strip(), validate=True).decode(
            "utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        sep = ""
    if not sep:
        raise OpenRosaError("basic_invalid", "The Basic credentials are not base64 of "
                            "'user:password'.")
    user = openrosa_q.user_with_ha1(g.db, name)
    if user is None or user["disabled_at"] or not user["password_hash"]:
        raise OpenRosaError("basic_invalid", "Unknown user or wrong password.")
    state = auth_state()
    key = state.basic_key(name, user["password_hash"], password)
    if not state.basic_cached(key):
        if not check_password_hash(user["password_hash"], password):
            raise OpenRosaError("basic_invalid", "Unknown user or wrong password.")
        state.remember_basic(key)
        if not user["digest_ha1"]:  # an account made before Digest support
            openrosa_q.set_digest_ha1(g.db, user["id"], digest_ha1(name, password))
    return _public(user)


def _check_digest_params(params: dict[str, str]) -> None:
    missing = [k for k in digest.REQUIRED if not params.get(k)]
    if params.get("qop") != "auth":
        missing.append('qop="auth"')
    if not params.get("nc") or not params.get("cnonce"):
        missing.append("nc and cnonce")
    if missing:
        raise _digest_error(f"The Digest header lacks: {', '.join(missing)}.")
    if params["realm"] != DIGEST_REALM:
        raise _digest_error(f"The Digest realm must be '{DIGEST_REALM}'.")
    if params.get("algorithm", "MD5").upper() != "MD5":
        raise _digest_error("Only the MD5 Digest algorithm is supported.")
    if params.get("opaque") and params["opaque"] != auth_state().nonces.opaque:
        raise _digest_error("The Digest opaque value is not this server's; retry.")
    if urlsplit(params["uri"]).path != request.path:
        raise _digest_error("The Digest uri does not match the request.")


def _digest_error(message: str) -> OpenRosaError:
    return OpenRosaError("digest_invalid", message)


def _public(user: dict) -> dict:
    return {k: user[k] for k in ("id", "name", "role", "created_at", "disabled_at")}
