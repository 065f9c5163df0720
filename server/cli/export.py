"""`fieldsync export FORM_ID`: a wrapper of server.exports.stream, progress on stderr."""

from __future__ import annotations

import sys
import time

import click

from server.cli.common import db_option, store
from server.exports.stream import FORMATS, ExportOptions, export_plan, stream


def register(cli: click.Group) -> None:
    cli.add_command(export)


@click.command()
@click.argument("form_id")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--since", default=0, show_default=True, type=click.IntRange(min=0),
              help="Only changes after this seq (the 'next' of the previous export).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write here instead of standard output.")
@click.option("--repeat", default=None, help="Export this repeat's rows instead (its path).")
@click.option("--include-all", is_flag=True,
              help="Include superseded, conflicting and quarantined versions too.")
@click.option("--country", default=None, help="Only this country (country_of_return).")
@click.option("--round", "round_", default=None, help="Only this survey round.")
@click.option("--review-state", default=None, help="Only this review state.")
@click.option("--office", default=None, help="Only records from this office.")
@click.option("--device", default=None, help="Only records from this tablet (device id).")
@click.option("--enumerator", default=None, help="Only records sent by this account.")
@click.option("--flagged/--not-flagged", default=None,
              help="Only records flagged invalid, or only those not flagged.")
@click.option("--duplicate/--not-duplicate", default=None,
              help="Only probable or confirmed duplicates, or only the others.")
@click.option("--date-field", type=click.Choice(["interview_date", "received_at"]),
              default="interview_date", show_default=True)
@click.option("--from", "date_from", default=None, help="First date (YYYY-MM-DD).")
@click.option("--to", "date_to", default=None, help="Last date (YYYY-MM-DD).")
@click.option("--raw", is_flag=True,
              help="Write texts exactly as received, even those a spreadsheet would run "
                   "as formulas (by default they are written as text; docs/exports.md).")
@db_option
def export(form_id, fmt, since, out, repeat, include_all, country, round_, review_state,
           office, device, enumerator, flagged, duplicate, date_field, date_from, date_to,
           raw, db_path):
    """Stream every version's submissions with scores and flags (csv, jsonl, xlsx)."""
    db = store(db_path)
    options = ExportOptions(since=since, repeat=repeat, include_all=include_all,
                            country=country, round=round_, review_state=review_state,
                            office=office, device=device, enumerator=enumerator,
                            flagged=flagged, duplicate=duplicate, date_field=date_field, date_from=date_from,
                            date_to=date_to, raw=raw)
    started = time.monotonic()
    plan = export_plan(db, form_id, options, fmt)
    count = {"rows": 0}

    def progress(n):
        count["rows"] = n
        if n and n % 50_000 == 0:
            click.echo(f"  {n} rows...", err=True)

    sink = open(out, "wb") if out else sys.stdout.buffer
    try:
        for chunk in stream(db, plan, fmt, on_rows=progress):
            sink.write(chunk)
    finally:
        if out:
            sink.close()
        else:
            sink.flush()
        db.close()
    seconds = time.monotonic() - started
    click.echo(f"exported {count['rows']} rows of {form_id} ({fmt}) since seq {since}; "
               f"next: {plan.next} (use --since {plan.next}); {seconds:.1f}s", err=True)
