"""URLs as the caller sees the server, for the documents and pages that name them
(form lists, manifests, Location headers, OData links, Collect's QR code)."""

from __future__ import annotations

from flask import request, url_for


def client_scheme() -> str:
    """``http`` or ``https`` as the caller reached the server: behind a TLS proxy
    that sets X-Forwarded-Proto, the proxy's (the answer only goes back to the
    client that sent the header, so it cannot mislead anyone else)."""
    scheme = request.headers.get("X-Forwarded-Proto", "").lower()
    return scheme if scheme in ("http", "https") else request.scheme


def base_url() -> str:
    """This server's URL as the caller reached it, without a trailing '/'."""
    return f"{client_scheme()}://{request.host}{request.script_root}"


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for ``endpoint``, in the caller's scheme."""
    return url_for(endpoint, _external=True, _scheme=client_scheme(), **values)
