"""`fieldsync enketo ...` and `fieldsync public-link ...`: wrappers of
server.enketo (web-form links, edits in Enketo, public links).

Enketo's address and API key, and this server's public address, are read from
the same environment variables as the server's: FIELDSYNC_ENKETO_URL,
FIELDSYNC_ENKETO_API_KEY, FIELDSYNC_SERVER_URL (docs/enketo.md).
"""

from __future__ import annotations

import json
import sys

import click
import requests

from server.cli.common import db_option, store
from server.enketo import edit, public, surveys
from server.enketo.client import EnketoClient
from server.enketo.settings import Settings, from_environ


def register(cli: click.Group) -> None:
    cli.add_command(enketo)
    cli.add_command(public_link)


def _client(settings: Settings) -> EnketoClient | None:
    if not (settings.enketo_url and settings.api_key):
        return None
    return EnketoClient(requests.Session(), settings.enketo_url, settings.api_key)


def follow_form(db, form_id: str) -> None:
    """After `forms publish` or `forms state`: Enketo in step, when it is set up."""
    settings = from_environ()
    answer = surveys.follow_form(db, _client(settings), settings, form_id)
    if answer and answer.get("error"):
        click.echo(f"fieldsync: warning: Enketo: {answer['error']}", err=True)


def _echo(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, sort_keys=True))


@click.group()
def enketo():
    """Web forms in Enketo: links of each form, edits of records."""


@enketo.command("links")
@click.argument("form_id")
@db_option
def enketo_links(form_id, db_path):
    """Print a form's web-form links as last received from Enketo (JSON)."""
    _echo(surveys.enketo_links(store(db_path), form_id))


@enketo.command("refresh")
@click.argument("form_id", required=False)
@db_option
def enketo_refresh(form_id, db_path):
    """Ask Enketo for the links of FORM_ID (default: every form); one JSON line each.

    Closing and closed forms have their links deactivated. Exits 1 if Enketo
    could not be brought in step for some form (its error is in its line)."""
    settings = from_environ().require()
    answers = surveys.enketo_refresh(store(db_path), _client(settings), settings, form_id)
    for answer in answers:
        _echo(answer)
    failed = [a["form_id"] for a in answers if a.get("error")]
    if failed:
        click.echo(f"fieldsync: error: Enketo could not be brought in step for: "
                   f"{', '.join(failed)}", err=True)
        sys.exit(1)


@enketo.command("edit")
@click.argument("instance_id")
@click.option("--return-url", default=None, help="Where Enketo sends the user after the "
              "edit (default: the record's page in the console).")
@db_option
def enketo_edit(instance_id, return_url, db_path):
    """Print an Enketo URL where the record INSTANCE_ID can be edited (valid briefly)."""
    settings = from_environ().require()
    answer = edit.enketo_edit(store(db_path), _client(settings), settings, instance_id,
                              return_url or f"{settings.server_url}/submissions/{instance_id}",
                              actor="cli")
    click.echo(answer["edit_url"])


@click.group("public-link")
def public_link():
    """Anonymous, revocable links that accept records of one form."""


@public_link.command("create")
@click.argument("form_id")
@click.option("--label", default=None, help="What the link is for (shown to admins).")
@db_option
def public_link_create(form_id, label, db_path):
    """Create a public link to FORM_ID; prints it as JSON (its address in server_url)."""
    db = store(db_path)
    link = public.public_link_create(db, form_id, label, actor="cli")
    follow_form(db, form_id)
    _echo(public.link_view(db, link, from_environ().server_url))


@public_link.command("list")
@click.argument("form_id")
@db_option
def public_link_list(form_id, db_path):
    """List FORM_ID's public links, one JSON line each (revoked ones too)."""
    for view in public.public_link_list(store(db_path), form_id, from_environ().server_url):
        _echo(view)


@public_link.command("revoke")
@click.argument("link_id", type=int)
@db_option
def public_link_revoke(link_id, db_path):
    """End public link LINK_ID at once (its Enketo links stop too)."""
    db = store(db_path)
    link = public.public_link_revoke(db, link_id, actor="cli")
    follow_form(db, link["form_id"])
    click.echo(f"revoked public link {link_id} ({link['form_id']})")
