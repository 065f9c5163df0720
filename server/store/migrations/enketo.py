"""Web forms in Enketo: the links Enketo gave for each form, and public links."""

from __future__ import annotations

from sqlite_utils import Database

from server.store.migrations import migrations


@migrations(name="0035_enketo_surveys")
def m0035_enketo_surveys(db: Database) -> None:
    # One row per Enketo survey fieldsync asked for: a form's own (link_id 0) and
    # one per public link. ``server_url`` is the server's address the survey was
    # made under (Enketo keys its surveys by the address it was given and the
    # form id; a public link's address adds its token, never stored in clear),
    # kept so the survey can be deactivated later even if the address changed.
    # ``active``: what fieldsync wants (the form is open, the link not revoked);
    # ``synced``: whether Enketo was told so (0 when it could not be reached: the
    # next refresh tries again). ``links``: Enketo's answer (url, offline_url,
    # single_url, preview_url ...), as JSON.
    db.execute(
        """CREATE TABLE enketo_surveys (
            form_id TEXT NOT NULL REFERENCES forms(form_id),
            link_id INTEGER NOT NULL DEFAULT 0,
            server_url TEXT NOT NULL,
            enketo_id TEXT,
            links TEXT NOT NULL DEFAULT '{}',
            active INTEGER NOT NULL DEFAULT 1,
            synced INTEGER NOT NULL DEFAULT 0,
            refreshed_at TEXT,
            error TEXT,
            PRIMARY KEY (form_id, link_id)
        )"""
    )


@migrations(name="0036_public_links")
def m0036_public_links(db: Database) -> None:
    # Anonymous links that allow submitting to one form. The token is looked up
    # by its sha256; the server keeps it sealed with the server key
    # (server/accounts/keys.py) to show the link again, so a copy of the store
    # alone does not hold usable links.
    db.execute(
        """CREATE TABLE public_links (
            id INTEGER PRIMARY KEY,
            form_id TEXT NOT NULL REFERENCES forms(form_id),
            label TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            token_sealed TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL,
            revoked_by TEXT,
            revoked_at TEXT
        )"""
    )
    db.execute("CREATE INDEX public_links_form ON public_links(form_id, id)")
