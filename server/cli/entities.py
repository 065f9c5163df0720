"""`fieldsync entities ...` and `fieldsync due ...`: wrappers of server.entities.
Each command calls the function of the same name and prints its
answer as JSON (one object a line for lists of items), or the CSV it streams.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from server.cli.common import db_option, store
from server.entities import conflicts as conflicts_api
from server.entities import due as due_api
from server.entities import imports as imports_api
from server.entities import lists as lists_api


def register(cli: click.Group) -> None:
    cli.add_command(entities_group)
    cli.add_command(due_group)


def _echo(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


@click.group("entities")
def entities_group():
    """Entity lists: what tablets carry, imports, history and conflicts."""


@entities_group.command("lists")
@db_option
def lists_list(db_path):
    """Print every entity list with its size and open conflicts, one a line."""
    for item in lists_api.lists_list(store(db_path)):
        _echo(item)


@entities_group.command("show")
@click.argument("name")
@click.argument("entity_id", required=False)
@db_option
def entity_get(name, entity_id, db_path):
    """Print a list, or (with ENTITY_ID) one entity with its history and conflicts."""
    db = store(db_path)
    _echo(lists_api.entity_get(db, name, entity_id) if entity_id
          else lists_api.list_get(db, name))


@entities_group.command("set")
@click.argument("name")
@click.option("--key", "key_property", default=None,
              help="The property no two entities may share (e.g. case_id); '' removes it.")
@click.option("--by", "actor", default="cli", show_default=True)
@db_option
def list_set(name, key_property, actor, db_path):
    """Create a list or set its key property."""
    _echo(lists_api.list_set(store(db_path), name, key_property=key_property, actor=actor))


@entities_group.command("export")
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False), help="Write here, not to stdout.")
@db_option
def list_export(name, out, db_path):
    """Write the whole list as CSV (name, label, __version, properties, assignee)."""
    chunks = lists_api.list_export(store(db_path), name)
    target = open(out, "wb") if out else sys.stdout.buffer
    try:
        for chunk in chunks:
            target.write(chunk)
    finally:
        if out:
            target.close()


@entities_group.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", default=None, help="Match rows to entities by this property "
              "(e.g. case_id) [default: the list's key].")
@click.option("--label-column", default="label", show_default=True)
@click.option("--assignee-column", default="assignee", show_default=True)
@click.option("--apply", "apply_", is_flag=True,
              help="Import for real; without it, only show what would change.")
@click.option("--by", "actor", default="cli", show_default=True)
@db_option
def entities_import(name, file, key, label_column, assignee_column, apply_, actor, db_path):
    """Import a case list from CSV; a dry run unless --apply."""
    answer = imports_api.entities_import(
        store(db_path), name, Path(file).read_bytes(), key=key, label_column=label_column,
        assignee_column=assignee_column, dry_run=not apply_, actor=actor)
    _echo(answer)
    if answer["dry_run"]:
        click.echo("dry run: nothing was imported; add --apply to import", err=True)


@entities_group.command("conflicts")
@click.option("--list", "list_name", default=None)
@click.option("--status", type=click.Choice(conflicts_api.STATUSES), default="open",
              show_default=True)
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--after", type=int, default=0)
@db_option
def conflicts_list(list_name, status, limit, after, db_path):
    """Print entity conflicts kept for review, one a line."""
    answer = conflicts_api.conflicts_list(store(db_path), list_name, status, limit, after)
    for item in answer["conflicts"]:
        _echo(item)


@entities_group.command("resolve")
@click.argument("conflict_id", type=int)
@click.argument("action", type=click.Choice(conflicts_api.ACTIONS))
@click.option("--comment", default=None)
@click.option("--set", "values", multiple=True, metavar="PROPERTY=VALUE",
              help="Apply these values instead of the proposed ones (repeatable).")
@click.option("--by", "actor", default="cli", show_default=True)
@db_option
def conflict_resolve(conflict_id, action, comment, values, actor, db_path):
    """Apply or dismiss an entity conflict."""
    props = None
    if values:
        pairs = [v.split("=", 1) for v in values]
        if any(len(p) != 2 or not p[0] for p in pairs):
            raise click.BadParameter("use PROPERTY=VALUE", param_hint="--set")
        props = dict(pairs)
    _echo(conflicts_api.conflict_resolve(store(db_path), conflict_id, action, comment=comment,
                                         properties=props, actor=actor))


@entities_group.command("team")
@click.argument("team")
@click.argument("members", nargs=-1)
@db_option
def team_set(team, members, db_path):
    """Set a team's members (user names); entities assigned to TEAM go to their tablets."""
    _echo(lists_api.team_set(store(db_path), team, list(members), actor="cli"))


@click.group("due")
def due_group():
    """Due lists: whose next round is due, overdue or completed."""


@due_group.command("list")
@click.argument("form_id")
@click.option("--status", type=click.Choice(due_api.STATUSES), default=None)
@click.option("--assignee", default=None, help="Only this enumerator's (or team's) cases.")
@click.option("--on", default=None, help="The day (YYYY-MM-DD) [default: today].")
@click.option("--limit", type=int, default=500, show_default=True)
@db_option
def due_list(form_id, status, assignee, on, limit, db_path):
    """Print the counts by status, then one case a line."""
    answer = due_api.due_list(store(db_path), form_id, status=status, assignee=assignee,
                              on=on, limit=limit)
    _echo({k: answer[k] for k in ("form_id", "list", "on", "counts")})
    for item in answer["items"]:
        _echo(item)


@due_group.command("schedule")
@click.argument("form_id")
@click.option("--rounds", default=None, metavar="NAME=MONTHS,...",
              help="e.g. baseline=0,6m=6,12m=12,18m=18")
@click.option("--anchor", default=None, help="The entity property rounds count from.")
@click.option("--due-before-days", type=int, default=None)
@click.option("--overdue-after-days", type=int, default=None)
@db_option
def schedule_set(form_id, rounds, anchor, due_before_days, overdue_after_days, db_path):
    """Print the form's schedule; with options, change it first."""
    db = store(db_path)
    changes = {}
    if rounds:
        try:
            changes["rounds"] = [{"name": n.strip(), "months": int(m)}
                                 for n, m in (r.split("=", 1) for r in rounds.split(","))]
        except ValueError:
            raise click.BadParameter("use NAME=MONTHS,...", param_hint="--rounds") from None
    for key, value in (("anchor", anchor), ("due_before_days", due_before_days),
                       ("overdue_after_days", overdue_after_days)):
        if value is not None:
            changes[key] = value
    _echo(due_api.schedule_set(db, form_id, changes, actor="cli") if changes
          else due_api.schedule_get(db, form_id))
