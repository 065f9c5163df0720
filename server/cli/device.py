"""`fieldsync device ...`: thin wrappers of sync.device (the device client)."""

from __future__ import annotations

import json

import click

from sync import device as api


def register(cli: click.Group) -> None:
    cli.add_command(device)


def device_db_option(func):
    """``--db PATH``: the DEVICE store (not the server's), default ./fieldsync-device.db."""
    return click.option(
        "--db", "db_path", type=click.Path(dir_okay=False),
        default=api.default_db, show_default=f"./{api.DEFAULT_DB} or ${api.DB_ENV}",
        help="Path of this device's local store (never the server's store).",
    )(func)


@click.group()
def device():
    """The device client: collect offline, then sync with a fieldsync server.

    Every device command takes --db PATH, the DEVICE store (default
    ./fieldsync-device.db, or $FIELDSYNC_DEVICE_DB); it is deliberately not
    $FIELDSYNC_DB, so a device command can never write into a server's store.
    Attachments live in the device folder chosen at `init` (--dir, default
    ./fieldsync-device or $FIELDSYNC_DEVICE_DIR), remembered in the store.

    \b
    fieldsync device init --server http://office:8000 --token TOKEN
    fieldsync device pull
    fieldsync device fill rss
    fieldsync device import-collect /media/tablet/odk/instances
    fieldsync device push
    fieldsync device status
    """


@device.command("init")
@click.option("--server", required=True, help="The server's URL, e.g. http://office:8000.")
@click.option("--token", required=True, help="A bearer token from `fieldsync token create`.")
@click.option("--dir", "media_dir", type=click.Path(file_okay=False), default=None,
              help="Device folder for attachments [default: ./fieldsync-device or "
                   "$FIELDSYNC_DEVICE_DIR; kept on re-init].")
@device_db_option
def device_init(server, token, media_dir, db_path):
    """Point this device at a server; makes the device_id once and keeps it."""
    ident = api.init(db_path, server, token, media_dir)
    click.echo(f"device {ident['device_id']} -> {ident['server_url']} "
               f"(store {db_path}, folder {ident['media_dir']})")


@device.command("pull")
@device_db_option
def device_pull(db_path):
    """Download the forms list, every XForm not cached yet and the entity lists
    the forms read (the part assigned to this device's user) that changed."""
    summary = api.pull(db_path)
    for name in summary["added"]:
        click.echo(f"cached {name}")
    for name in summary.get("lists", []):
        click.echo(f"list {name}")
    for p in summary["problems"]:
        click.echo(f"problem: {p['form']}: {p['error']}", err=True)
    click.echo(f"{summary['listed']} form version(s) on the server, "
               f"{len(summary['added'])} new", err=True)


@device.command("fill")
@click.argument("form_id")
@click.option("--version", default=None, help="A cached version [default: the newest].")
@click.option("--lang", default=None, help="Label language, e.g. 'English (en)'.")
@device_db_option
def device_fill(form_id, version, lang, db_path):
    """Enter a record for FORM_ID in the terminal and finalize it into the outbox."""
    from sync.fill import fill

    result = fill(db_path, form_id, version=version, language=lang,
                  ask=_ask, say=lambda text: click.echo(text, err=True))
    click.echo(result["instance_id"])


@device.command("push")
@click.option("--batch-size", default=api.DEFAULT_BATCH, show_default=True, type=int,
              help="Records per request (halves on failures, grows back).")
@click.option("--attempts", default=8, show_default=True, type=int,
              help="Consecutive failures before giving up (backoff with jitter between).")
@device_db_option
def device_push(batch_size, attempts, db_path):
    """Send the outbox; a record is marked sent only once the server answered for it."""
    from rich.progress import Progress

    with Progress(transient=True, console=_stderr_console()) as progress:
        task = progress.add_task("pushing", total=0)
        summary = api.push(
            db_path, batch_size=batch_size, attempts=attempts,
            on_start=lambda total: progress.update(task, total=total),
            on_progress=lambda n: progress.advance(task, n))
    counts = ", ".join(f"{s} {n}" for s, n in sorted(summary["by_status"].items()))
    click.echo(counts or "nothing to push")
    for p in summary["problems"]:
        click.echo(f"not sent: {p['instance_id']}: {p['error']}", err=True)
    click.echo(f"{summary['queued']} still queued", err=True)


@device.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@device_db_option
def device_status(as_json, db_path):
    """Counts: drafts, queued, sent by server status; the last sync."""
    st = api.status(db_path)
    if as_json:
        click.echo(json.dumps(st, sort_keys=True))
        return
    click.echo(f"device {st['device_id']} -> {st['server']}")
    click.echo(f"drafts {st['drafts']}, queued {st['queued']}"
               f" ({st['queued_with_errors']} with errors), sent {st['sent']}")
    for status, n in st["by_status"].items():
        click.echo(f"  {status} {n}")
    click.echo(f"forms cached {st['forms']}")
    for kind in ("push", "pull"):
        last = st[f"last_{kind}"]
        click.echo(f"last {kind}: {last['at'] if last else 'never'}"
                   + (f" ({last['summary']['error']})" if last and
                      last["summary"].get("error") else ""))


@device.command("import-collect")
@click.argument("folder", type=click.Path(path_type=str))
@device_db_option
def device_import_collect(folder, db_path):
    """Queue the records of an ODK Collect 'instances' folder copied off a tablet."""
    summary = api.import_collect(db_path, folder)
    for p in summary["problems"]:
        click.echo(f"skipped {p['path']}: {p['error']}", err=True)
    click.echo(f"queued {summary['queued']}, already queued {summary['already_queued']}, "
               f"problems {len(summary['problems'])}")


def _ask(prompt: str, default: str | None = None) -> str:
    return click.prompt(prompt, default=default or "", show_default=bool(default),
                        err=True)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)
