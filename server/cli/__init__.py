"""The `fieldsync` command line: each command parses options, calls one function
of the Python API, and turns a named error into a one-line message.

Exit status: 0 on success, 1 on a user error (message on stderr says what to
fix), 2 on bad usage (click's own).
"""

from __future__ import annotations

import sys

import click

from server.cli.common import FieldsyncGroup


@click.group(cls=FieldsyncGroup)
@click.version_option(package_name="fieldsync")
def cli():
    """fieldsync: offline-first data collection, validation, scoring and forwarding."""


def _register() -> None:
    from server.cli import accounts, device, forms, serve
    from server.cli import backup, export, worker
    from server.cli import score  # score, scoring, rescore, trends
    from server.cli import review  # review queues and duplicates
    from server.cli import entities  # entity lists and due lists
    from server.cli import enketo  # web forms in Enketo, public links

    for module in (accounts, device, forms, serve, worker, export, backup, review, score,
                   entities, enketo):
        module.register(cli)


_register()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="fieldsync", standalone_mode=True) or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
