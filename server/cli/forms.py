"""`fieldsync forms ...`: wrappers of server.registry.publish (and forms.check)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from forms.check import check_files, form_report
from forms.errors import FormsError
from forms.expressions import expression_summary
from forms.xpath.values import timezone_named
from server.ingest.timezone import TIMEZONE_ENV, server_timezone
from server.registry import publish as registry
from server.cli.common import db_option, store
from server.cli.enketo import follow_form


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
    db = store(db_path)
    answer = registry.forms_publish(db, file.read_bytes(), file.name, actor="cli")
    click.echo(f"{answer['form_id']} {answer['version']}")
    follow_form(db, answer["form_id"])  # its web-form links, when Enketo is set up
    if not answer["created"]:
        click.echo("(already published with the same content)", err=True)
    for line in _expression_lines(answer["expressions"]):
        click.echo(line, err=True)


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
    db = store(db_path)
    registry.form_set_state(db, form_id, state, actor="cli")
    follow_form(db, form_id)  # closing or closed: its web-form links stop accepting
    click.echo(f"{form_id} {state}")


@forms.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("submissions", nargs=-1,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--media", "media_dir", type=click.Path(exists=True, file_okay=False,
              path_type=Path), help="Folder of the form's media files (CSV, XML) read by "
              "pulldata() and instance(); default: the form's folder.")
@click.option("--timezone", "tz_name", default=None, metavar="TZ",
              help=f"Time zone of dates without a time (UTC, +03:00, Africa/Dakar); "
              f"default: ${TIMEZONE_ENV}, else UTC.")
@click.option("--expressions", "list_expressions", is_flag=True,
              help="Also print, as JSON lines, every expression and whether the server "
              "checks it.")
@db_option
def forms_check(file, submissions, media_dir, tz_name, list_expressions, db_path):
    """Check a form; with submissions (.xml or .json), print findings as JSON lines.

    Expressions the server leaves to the tablet are reported once, as the
    finding expression_not_checked. Exits 1 when the form is refused or any
    submission has an error-level finding.
    """
    del db_path  # checking needs no store; the option is kept for uniformity
    try:
        tz = timezone_named(tz_name) if tz_name is not None else server_timezone()
    except ValueError as exc:
        raise FormsError("timezone_invalid", str(exc)) from None
    errors = count = 0
    for finding in check_files(file, submissions, tz=tz, media_dir=media_dir):
        count += 1
        errors += finding.get("severity") == "error"
        click.echo(json.dumps(finding, ensure_ascii=False))
    report = form_report(file, media_dir)
    if list_expressions:
        for entry in report:
            click.echo(json.dumps({"file": str(file), **entry}, ensure_ascii=False))
    for line in _expression_lines(expression_summary(report)):
        click.echo(line, err=True)
    click.echo(f"{file.name}: form OK; {len(submissions)} submission(s), {count} finding(s), "
               f"{errors} error(s)", err=True)
    if errors:
        sys.exit(1)


def _expression_lines(counts: dict) -> list[str]:
    """What a person reads about the form's expressions: how many the server
    checks, and each it leaves to the tablet."""
    lines = [f"expressions: {counts['checked']} checked on the server, "
             f"{counts['not_checked']} not checked"]
    if counts.get("media"):
        lines.append(f"  read from media files: {', '.join(counts['media'])}")
    for item in counts.get("items", []):
        lines.append(f"  not checked: the {item['attribute']} of '{item['field']}' "
                     f"({item['function']}): {item['reason']}")
    return lines
