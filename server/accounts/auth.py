"""Who is calling and what their role lets them do.

Every view declares one permission with ``@requires("...")``; the decorator
authenticates the caller (bearer token on the JSON API) and checks the role
against ``PERMISSIONS``. A test walks the URL map and fails if any endpoint
lacks a declared permission, so no route can forget to check.

Every authenticator ends in ``server.accounts.login.require_active``: a
disabled or deleted account is refused whichever door it knocks on. A ``peer``
(another fieldsync server forwarding to this one) holds only ``sync.push``: a
leaked peer token can forward records, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request

from server.accounts.users import authenticate_token
from server.errors import FieldsyncError

ALL = frozenset({"admin", "supervisor", "enumerator", "analyst", "peer"})
PEOPLE = ALL - {"peer"}

# permission -> roles that hold it
PERMISSIONS: dict[str, frozenset[str]] = {
    "public": ALL,  # no credentials needed (health check)
    "forms.read": PEOPLE,
    "forms.publish": frozenset({"admin"}),
    "forms.manage": frozenset({"admin"}),
    "submissions.create": frozenset({"admin", "supervisor", "enumerator"}),  # OpenRosa
    # the JSON sync door: devices, and peers forwarding (their records' origin,
    # scores, flags and review state are kept as the peer's claims)
    "sync.push": frozenset({"admin", "supervisor", "enumerator", "peer"}),
    # one's own account: password, Central's /v1/users/current and sessions
    "account.self": PEOPLE,
    "submissions.read": frozenset({"admin", "supervisor", "analyst"}),
    "submissions.review": frozenset({"admin", "supervisor"}),
    "users.manage": frozenset({"admin"}),
    "audit.read": frozenset({"admin"}),
    "outbox.manage": frozenset({"admin"}),  # forwarding status and retry
    # entity lists: read, import and resolve; due lists (an
    # enumerator sees their own cases)
    "entities.read": frozenset({"admin", "supervisor", "analyst"}),
    "entities.manage": frozenset({"admin", "supervisor"}),
    "due.read": frozenset({"admin", "supervisor", "analyst", "enumerator"}),
    # set up a tablet for an enumerator (the console's Collect QR code with an account)
    "devices.configure": frozenset({"admin", "supervisor"}),
    # Web forms in Enketo (server/enketo): a supervisor edits a record there through
    # submissions.review; links are refreshed and public links made through
    # forms.manage. Two callers hold no account, only a capability their
    # authenticator checks (server/enketo/web.py): a live public link (list and
    # submit its one form) and a signed attachment URL (one record's files, briefly).
    "public_link.submit": frozenset({"public_link"}),
    "enketo.media": frozenset({"signed_url"}),
}

# Other authenticators (OpenRosa Basic/Digest) can be listed per blueprint;
# each returns a user dict or None, or raises FieldsyncError.
Authenticator = Callable[[], "dict | None"]


def bearer_user() -> dict | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise FieldsyncError(
            "token_invalid",
            "Send 'Authorization: Bearer TOKEN'; create a token with `fieldsync token create`.",
        )
    user = authenticate_token(g.db, token.strip())
    if user is None:
        raise FieldsyncError(
            "token_invalid", "The bearer token is unknown or revoked; ask an admin for a new one."
        )
    return user


def requires(permission: str, authenticators: tuple[Authenticator, ...] = (bearer_user,)):
    """Authenticate the caller and check that their role holds ``permission``."""
    roles = PERMISSIONS[permission]

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if permission != "public":
                user = None
                for authenticate in authenticators:
                    user = authenticate()
                    if user is not None:
                        break
                if user is None:
                    raise FieldsyncError(
                        "auth_required",
                        "This endpoint needs credentials: send 'Authorization: Bearer TOKEN'.",
                    )
                if user["role"] not in roles:
                    raise FieldsyncError(
                        "forbidden",
                        f"Role '{user['role']}' may not do this ({permission}); "
                        f"it needs one of: {', '.join(sorted(roles))}.",
                    )
                g.user = user
            return view(*args, **kwargs)

        wrapped.permission = permission
        return wrapped

    return decorate


def client_address() -> str:
    """The caller's address as the throttle counts it (behind a reverse proxy,
    set TRUSTED_PROXIES so this is the client's, not the proxy's)."""
    return request.remote_addr or "unknown"


def sign_in_options() -> dict:
    """Keyword arguments of ``login.check_password`` / ``login.begin`` for this request."""
    return {"address": client_address(),
            "throttled": bool(current_app.config.get("LOGIN_THROTTLE", True))}


def actor() -> str | None:
    user = g.get("user")
    return user["name"] if user else None
