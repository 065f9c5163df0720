"""`fieldsync backup OUT` and `fieldsync restore IN`: wrappers of server.ops.backup."""

from __future__ import annotations

import json

import click

from server.ops import backup as backup_mod
from server.cli.common import db_option


def register(cli: click.Group) -> None:
    cli.add_command(backup)
    cli.add_command(restore)


@click.command()
@click.argument("out", type=click.Path(dir_okay=False))
@db_option
def backup(out, db_path):
    """Copy the store to OUT while the server runs (SQLite online backup, checked)."""
    click.echo(json.dumps(backup_mod.backup(db_path, out)))


@click.command()
@click.argument("backup_file", metavar="IN", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing store (kept aside as "
              "DB.before-restore). Stop the server and worker first.")
@db_option
def restore(backup_file, force, db_path):
    """Check the backup IN and make it the store at --db (server and worker stopped)."""
    click.echo(json.dumps(backup_mod.restore(backup_file, db_path, force=force)))
