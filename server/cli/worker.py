"""`fieldsync upstream ...`, `fieldsync outbox ...` and `fieldsync worker`:
wrappers of server.forwarding.outbox and server.ops.worker."""

from __future__ import annotations

import json
import sys

import click

from server.forwarding import outbox
from server.ops import worker as worker_mod
from server.cli.common import db_option, store


def register(cli: click.Group) -> None:
    cli.add_command(upstream)
    cli.add_command(outbox_group)
    cli.add_command(worker)


@click.group()
def upstream():
    """Where this office server forwards its records (an HQ server)."""


@upstream.command("set")
@click.argument("url")
@click.option("--token", required=True, help="A token of a 'peer' user on the HQ server.")
@db_option
def upstream_set(url, token, db_path):
    """Forward to URL with TOKEN; a different URL forwards everything again."""
    result = outbox.upstream_set(store(db_path), url, token, actor="cli")
    click.echo(f"upstream set to {result['url']}"
               + (" (forwarding restarts from the first record)"
                  if result["cursor_restarted"] else ""), err=True)


@click.group("outbox")
def outbox_group():
    """Forwarding status, refused records (dead letters) and retries."""


@outbox_group.command("status")
@db_option
def outbox_status(db_path):
    """Print the upstream, queued and dead-letter counts and the last error as JSON."""
    click.echo(json.dumps(outbox.outbox_status(store(db_path)), indent=2))


@outbox_group.command("list")
@click.option("--limit", default=100, show_default=True, type=int)
@click.option("--state", type=click.Choice(["dead", "retry"]), default=None)
@db_option
def outbox_list(limit, state, db_path):
    """List dead letters, one JSON line each (instance_id, kind, reason, attempts)."""
    for entry in outbox.outbox_list(store(db_path), limit=limit, state=state):
        click.echo(json.dumps(entry))


@outbox_group.command("retry")
@click.argument("instance_ids", nargs=-1)
@db_option
def outbox_retry(instance_ids, db_path):
    """Queue dead letters (all, or INSTANCE_IDS) for the worker's next run."""
    count = outbox.outbox_retry(store(db_path), list(instance_ids) or None, actor="cli")
    click.echo(f"queued {count} dead letter(s) for retry", err=True)


@click.command()
@click.option("--interval", default=10.0, show_default=True, type=float,
              help="Seconds between forwarding rounds.")
@click.option("--rescore-interval", default=300.0, show_default=True, type=float,
              help="Seconds between rescoring rounds (if server.scores.rescore exists).")
@click.option("--office", default=None, help="This office's name [$FIELDSYNC_OFFICE].")
@click.option("--timeout", default=30.0, show_default=True, type=float,
              help="Read timeout of each request to the upstream, in seconds.")
@click.option("--backoff-cap", default=600.0, show_default=True, type=float,
              help="Longest pause between attempts while the upstream is unreachable.")
@click.option("--no-wait", is_flag=True,
              help="Exit 1 at once if another worker runs on this store (default: "
                   "wait on standby and take over when it stops).")
@db_option
def worker(interval, rescore_interval, office, timeout, backoff_cap, no_wait, db_path):
    """Run the scheduled jobs (forwarding to the upstream, retries, rescoring)."""
    code = worker_mod.worker(db_path, interval=interval, rescore_interval=rescore_interval,
                             office=office, timeout=timeout, wait=not no_wait,
                             backoff_cap=backoff_cap)
    if code:
        click.echo("fieldsync: error: another `fieldsync worker` runs on this store; "
                   "stop it first or leave this one on standby (without --no-wait).",
                   err=True)
        sys.exit(code)
