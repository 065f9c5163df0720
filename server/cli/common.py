"""What every command shares: the --db option and turning errors into exit 1."""

from __future__ import annotations

import os
import sys

import click

from forms.errors import CodedError
from server.store import open_db

DEFAULT_DB = "fieldsync.db"


def db_option(func):
    """``--db PATH``: default ./fieldsync.db, or $FIELDSYNC_DB."""
    return click.option(
        "--db", "db_path", type=click.Path(dir_okay=False),
        default=lambda: os.environ.get("FIELDSYNC_DB", DEFAULT_DB),
        show_default="./fieldsync.db or $FIELDSYNC_DB",
        help="Path of the SQLite store.",
    )(func)


def store(db_path: str):
    """Open the store for a command, creating and migrating it if needed."""
    return open_db(db_path, migrate=True)


class FieldsyncGroup(click.Group):
    """A click group that reports fieldsync errors as one line and exit 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - rendered, not swallowed
            if isinstance(exc, CodedError):
                click.echo(f"fieldsync: error: {exc.message}", err=True)
                for problem in exc.details.get("errors", []) if exc.details else []:
                    where = ", ".join(
                        f"{k} {problem[k]}" for k in ("sheet", "row") if problem.get(k)
                    )
                    if where:
                        click.echo(f"  at {where}", err=True)
                sys.exit(1)
            if isinstance(exc, OSError):
                click.echo(f"fieldsync: error: {exc.strerror or exc}: {exc.filename or ''}",
                           err=True)
                sys.exit(1)
            raise
