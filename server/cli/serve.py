"""`fieldsync serve`: migrate the store, publish the RSS form, run the server."""

from __future__ import annotations

import click

from server.cli.common import db_option
from server.ops.serve import serve as run_server


def register(cli: click.Group) -> None:
    cli.add_command(serve)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--role", type=click.Choice(["office", "hq"]), default="office",
              show_default=True, help="office forwards upstream; hq receives from offices.")
@click.option("--workers", default=2, show_default=True, type=int,
              help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, type=int,
              help="Threads per worker.")
@db_option
def serve(host, port, role, workers, threads, db_path):
    """Run the server on the embedded SQLite store (created and migrated if needed)."""
    run_server(db_path, host=host, port=port, role=role, workers=workers, threads=threads)
