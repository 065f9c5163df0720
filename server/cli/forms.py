"""`fieldsync forms ...`: wrappers of server.registry.publish (and forms.check)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from forms.check import check_files
from server.registry import publish as registry
from server.cli.common import db_option, store


def register(cli: click.Group) -> None:
    cli.add_command(forms)


@click.group()
def forms():
    """Publish, list and check XLSForms."""


@forms.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
def forms_publish(file, db_path):
    """Publish an XLSForm (.xlsx, .xls, .csv or .md); prints FORM_ID VERSION."""
    answer = registry.forms_publish(store(db_path), file.read_bytes(), file.name, actor="cli")
    click.echo(f"{answer['form_id']} {answer['version']}")
    if not answer["created"]:
        click.echo("(already published with the same content)", err=True)


@forms.command("list")
@db_option
def forms_list(db_path):
    """List published forms, their state and versions."""
    for f in registry.forms_list(store(db_path)):
        click.echo(f"{f['form_id']}\t{f['state']}\t{','.join(f['versions'])}\t{f['title']}")


@forms.command("state")
@click.argument("form_id")
@click.argument("state", type=click.Choice(registry.STATES))
@db_option
def forms_state(form_id, state, db_path):
    """Set a form open, closing (still accepts records) or closed."""
    registry.form_set_state(store(db_path), form_id, state, actor="cli")
    click.echo(f"{form_id} {state}")


@forms.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("submissions", nargs=-1,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
def forms_check(file, submissions, db_path):
    """Check a form; with submissions (.xml or .json), print findings as JSON lines.

    Exits 1 when the form is refused or any submission has an error-level finding.
    """
    del db_path  # checking needs no store; the option is kept for uniformity
    errors = count = 0
    for finding in check_files(file, submissions):
        count += 1
        errors += finding.get("severity") == "error"
        click.echo(json.dumps(finding, ensure_ascii=False))
    click.echo(f"{file.name}: form OK; {len(submissions)} submission(s), {count} finding(s), "
               f"{errors} error(s)", err=True)
    if errors:
        sys.exit(1)
