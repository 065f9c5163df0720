"""Absolute URLs as the caller sees the server, for the documents that name them
(form lists, manifests, Location headers)."""

from __future__ import annotations

from flask import request, url_for


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for ``endpoint``: behind a TLS proxy that sets
    X-Forwarded-Proto, the scheme is the proxy's (the answer only goes back to
    the client that sent the header, so it cannot mislead anyone else)."""
    scheme = request.headers.get("X-Forwarded-Proto", "").lower()
    if scheme in ("http", "https"):
        values["_scheme"] = scheme
    return url_for(endpoint, _external=True, **values)
