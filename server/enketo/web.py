"""The Enketo integration inside a request: settings from the app's config, a
client with the app's HTTP session, and the callers that are not accounts (a
public link's holder, a signed attachment URL)."""

from __future__ import annotations

import requests
from flask import current_app, g, request

from server.enketo import media, public, surveys
from server.enketo.client import EnketoClient
from server.enketo.settings import Settings, from_config

SESSION_KEY = "fieldsync_enketo_session"  # app.extensions: a requests session to use
PUBLIC_LINK_ROLE = "public_link"  # who holds a live public link (no account)
SIGNED_URL_ROLE = "signed_url"  # who holds a valid signed attachment URL (no account)


def settings() -> Settings:
    return from_config(current_app.config)


def client() -> EnketoClient | None:
    """A client for the configured Enketo, or None when it is not set up. Its
    session is the app's (``app.extensions[SESSION_KEY]``: tests put a stand-in
    there), else a new one."""
    s = settings()
    if not (s.enketo_url and s.api_key):
        return None
    session = current_app.extensions.get(SESSION_KEY) or requests.Session()
    return EnketoClient(session, s.enketo_url, s.api_key)


def required_client() -> tuple[EnketoClient, Settings]:
    s = settings().require()
    return client(), s


def server_url() -> str:
    """fieldsync's address for links: SERVER_URL, else as this request reached it."""
    configured = settings().server_url
    if configured:
        return configured
    scheme = request.headers.get("X-Forwarded-Proto", "").lower()
    if scheme not in ("http", "https"):
        scheme = request.scheme
    return f"{scheme}://{request.host}{request.script_root}"


def follow_form(form_id: str) -> dict | None:
    """After a publish or a state change in this request: Enketo in step."""
    return surveys.follow_form(g.db, client(), settings(), form_id)


def public_link_holder() -> dict:
    """The caller of a public link's door: the live link of the path's token."""
    link = public.holder(g.db, (request.view_args or {}).get("token", ""))
    g.public_link = link
    return {"id": None, "name": public.submitter(link), "role": PUBLIC_LINK_ROLE,
            "created_at": None, "disabled_at": None}


def signed_media_holder() -> dict:
    """The caller of a signed attachment URL: valid for the path's record, now."""
    args = request.view_args or {}
    media.check_token(media.media_key(g.db), args.get("instance_id", ""),
                      args.get("token", ""))
    return {"id": None, "name": None, "role": SIGNED_URL_ROLE, "created_at": None,
            "disabled_at": None}
