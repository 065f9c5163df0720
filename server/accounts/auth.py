"""Who is calling and what their role lets them do.

Every view declares one permission with ``@requires("...")``; the decorator
authenticates the caller (bearer token on the JSON API) and checks the role
against ``PERMISSIONS``. A test walks the URL map and fails if any endpoint
lacks a declared permission, so no route can forget to check.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g, request

from server.accounts.users import authenticate_token
from server.errors import FieldsyncError

ALL = frozenset({"admin", "supervisor", "enumerator", "analyst", "peer"})

# permission -> roles that hold it
PERMISSIONS: dict[str, frozenset[str]] = {
    "public": ALL,  # no credentials needed (health check)
    "forms.read": ALL,
    "forms.publish": frozenset({"admin"}),
    "forms.manage": frozenset({"admin"}),
    "submissions.create": frozenset({"admin", "supervisor", "enumerator", "peer"}),
    "submissions.read": frozenset({"admin", "supervisor", "analyst"}),
    "submissions.review": frozenset({"admin", "supervisor"}),
    "users.manage": frozenset({"admin"}),
    "audit.read": frozenset({"admin"}),
    "outbox.manage": frozenset({"admin"}),  # forwarding status and retry
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


def actor() -> str | None:
    user = g.get("user")
    return user["name"] if user else None
