"""Basic and Digest authenticators for ``requires(..., authenticators=...)``.

Each returns the user (``id``, ``name``, ``role``) when the request carries its
scheme and valid credentials, None when the request uses another scheme, and
raises a 401 (answered with fresh challenges) when the credentials are wrong,
429 ``login_throttled`` after too many failures, 403 ``account_disabled`` for a
disabled account. Both are sign-ins like any other
(``server.accounts.login``): throttled per account and address, the same cost
for unknown names, every failure logged.

Digest compares md5 responses against the account's HA1, kept sealed with the
server key. Each (nonce, nc, cnonce) is recorded in the store when first
used, so a captured header is refused by every worker, after a restart too,
for as long as its nonce is valid. Basic checks the scrypt hash (remembered
for a few minutes, see ``login``); it sends the password in clear: use it only
behind TLS (docs/openrosa.md).
"""

from __future__ import annotations

import base64
import hmac
import threading
import time
from urllib.parse import urlsplit

from flask import current_app, g, request

from server.accounts import login
from server.accounts.auth import sign_in_options
from server.accounts.users import DIGEST_REALM, store_digest_secret, unseal_ha1
from server.openrosa import digest
from server.openrosa.errors import OpenRosaError
from server.store import logins as logins_q
from server.store import openrosa as openrosa_q
from server.store.db import write_transaction

_STATE_KEY = "fieldsync_openrosa_auth"
FORGET_EVERY = 60.0  # seconds between sweeps of expired Digest responses, per process
_STAND_IN_HA1 = "0" * 32  # compared against when an account has no usable HA1


class AuthState:
    """Per-process: the nonce signer (its secret is in the store, the same for
    every worker) and when expired Digest responses were last swept."""

    def __init__(self, secret: bytes):
        self.nonces = digest.Nonces(secret)
        self.swept_at = 0.0
        self.lock = threading.Lock()

    def due_for_sweep(self, now: float) -> bool:
        with self.lock:
            if now - self.swept_at < FORGET_EVERY:
                return False
            self.swept_at = now
            return True


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
    name = params["username"]
    attempt = login.begin(g.db, name, scheme="digest", **sign_in_options())
    user = openrosa_q.user_with_ha1(g.db, name)
    ha1 = unseal_ha1(g.db, name, user["digest_ha1"]) if user is not None else None
    expected = digest.expected_response(params, ha1 or _STAND_IN_HA1, request.method)
    answered = params["response"].lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected.encode("ascii"), answered) or ha1 is None:
        attempt.failed("unknown user" if user is None else
                       "no digest secret" if ha1 is None else "wrong password")
        raise _digest_error("Unknown user or wrong password. An account made before Digest "
                            "support (or whose Digest secret the server cannot read) signs "
                            "in once with Basic over TLS, or gets a new password.")
    if not _first_use(params, check.expires_at):
        raise OpenRosaError("nonce_stale", "This Digest response was already used; retry "
                            "with a new nonce count.", {"stale": True})
    return attempt.succeeded(user)


def _first_use(params: dict[str, str], expires_at: float) -> bool:
    """Record this response as used, in the store every worker shares."""
    now = time.time()
    sweep = auth_state().due_for_sweep(now)
    with write_transaction(g.db, durable=False):
        first = logins_q.use_digest_response(g.db, params["nonce"], params["nc"],
                                             params["cnonce"], expires_at)
        if sweep:
            logins_q.forget_digest_responses(g.db, now)
    return first


def basic_user() -> dict | None:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        name, sep, password = base64.b64decode(encoded.strip(), validate=True).decode(
            "utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):  # binascii.Error, or non-ASCII text
        sep = ""
    if not sep:
        raise OpenRosaError("basic_invalid", "The Basic credentials are not base64 of "
                            "'user:password'.")
    return login.check_password(g.db, name, password, scheme="basic",
                                on_verified=_ensure_digest_secret, **sign_in_options())


def _ensure_digest_secret(user: dict, password: str) -> None:
    """An account without a readable HA1 (made before Digest support, or before
    the server key was replaced) gains one from a verified Basic sign-in."""
    row = openrosa_q.user_with_ha1(g.db, user["name"])
    if row is not None and unseal_ha1(g.db, row["name"], row["digest_ha1"]) is None:
        with write_transaction(g.db):
            store_digest_secret(g.db, row["id"], row["name"], password)


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
    try:
        uri_path = urlsplit(params["uri"]).path
    except ValueError:
        uri_path = None
    if uri_path != request.path:
        raise _digest_error("The Digest uri does not match the request.")
    if len(params["nc"]) > 16 or len(params["cnonce"]) > 256:
        raise _digest_error("The Digest nc or cnonce is too long.")


def _digest_error(message: str) -> OpenRosaError:
    return OpenRosaError("digest_invalid", message)

