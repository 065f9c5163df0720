"""Each form's web-form links in Enketo, kept in step with the form's state.

fieldsync asks Enketo (POST /survey/all) for the links of every open form and
keeps them (table ``enketo_surveys``): online, offline-capable, single
submission, preview. A form that is closing or closed has its survey
deactivated in Enketo (DELETE /survey), so its links stop accepting; opening
it again asks for the links again, and Enketo activates the same survey (the
same links). Each public link (server/enketo/public.py) has a survey of its
own, under its own address, which follows its form and its revocation the
same way.

Enketo is asked outside any write transaction; what it answered is written
after. When it cannot be reached the form's state still changes: the survey
is kept unsynced with the error, shown beside the links, and the next refresh
(``fieldsync enketo refresh``, the console's button) tries again.
"""

from __future__ import annotations

from sqlite_utils import Database

from server.enketo import public
from server.enketo.client import EnketoClient
from server.enketo.errors import EnketoError
from server.enketo.settings import Settings
from server.registry import publish as registry
from server.store import enketo as enketo_q
from server.store import forms as forms_q
from server.store.db import write_transaction

OPEN = "open"  # the one state whose links accept records


def enketo_links(db: Database, form_id: str) -> dict:
    """A form's web-form links as last received from Enketo."""
    form = registry.form_get(db, form_id)
    return {"form_id": form_id, "state": form["state"], **enketo_q.survey_shown(db, form_id)}


def reconcile(db: Database, client: EnketoClient, settings: Settings, form_id: str,
              strict: bool = False) -> dict:
    """Make Enketo's surveys of ``form_id`` (its own and its public links') match
    fieldsync: active with fresh links while the form is open and the link
    live, deactivated otherwise. Returns ``enketo_links``; with ``strict``, a
    failure of the form's own survey is raised after everything was recorded."""
    form = registry.form_get(db, form_id)
    wanted = form["state"] == OPEN
    failure = _sync_one(db, client, form_id, enketo_q.FORM_SURVEY, settings.server_url,
                        None, wanted)
    for link in enketo_q.links_of(db, form_id):
        token = public.token_of(db, link)
        if token is not None:  # None: the store was moved without its key
            _sync_one(db, client, form_id, link["id"], settings.server_url, token,
                      wanted and link["revoked_at"] is None)
    if strict and failure is not None:
        raise failure
    return enketo_links(db, form_id)


def _sync_one(db: Database, client: EnketoClient, form_id: str, link_id: int, base: str,
              token: str | None, active: bool) -> EnketoError | None:
    """Ask Enketo to serve (or stop) one survey; record the answer. The row keeps
    the server's base address the survey was made under (a public link's
    address adds its token, which is never stored in clear)."""
    row = enketo_q.survey_get(db, form_id, link_id)
    if not active and (row is None or (not row["active"] and row["synced"])):
        return None  # Enketo never had it, or already stopped it
    if row is not None and not active:
        base = row["server_url"]  # stop the survey Enketo knows, under its address
    url = public.door_url(base, token) if token else base
    answer: dict = {}
    try:
        if active:
            answer = client.survey_all(url, form_id)
        else:
            client.deactivate(url, form_id)
        error = None
    except EnketoError as exc:
        error = exc
    with write_transaction(db):
        enketo_q.survey_put(db, form_id, link_id, server_url=base, active=active,
                            synced=error is None, links=answer.get("links"),
                            enketo_id=answer.get("enketo_id"),
                            error=error.message if error else None)
    return error


def enketo_refresh(db: Database, client: EnketoClient, settings: Settings,
                   form_id: str | None = None) -> list[dict]:
    """Ask Enketo again for one form's links, or every form's (closed forms'
    surveys are deactivated); one ``enketo_links`` per form. A single form's
    failure is raised; with every form, each failure is in its answer."""
    settings.require()
    if form_id is not None:
        return [reconcile(db, client, settings, form_id, strict=True)]
    return [reconcile(db, client, settings, f["form_id"]) for f in forms_q.list_forms(db)]


def follow_form(db: Database, client: EnketoClient | None, settings: Settings,
                form_id: str) -> dict | None:
    """After a form was published or changed state: bring Enketo in step, never
    failing the change itself (a failure is kept beside the links). Nothing
    when Enketo is not set up."""
    if client is None or not settings.configured:
        return None
    return reconcile(db, client, settings, form_id)
