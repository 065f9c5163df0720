"""`fieldsync score`, `fieldsync scoring ...`, `fieldsync rescore`, `fieldsync trends`:
wrappers of server.scores.score_file, server.scores.specs, server.scores.rescore, server.scores.trends."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from server.scores import rescore as rescore_api
from server.scores import specs as scoring_specs
from server.cli.common import db_option, store
from server.scores.score_file import score as score_api
from server.scores import trends as trends_module
from server.scores.trends import BY_CHOICES
from server.scores.trends import trends as trends_api


def register(cli: click.Group) -> None:
    for command in (score, scoring, rescore, trends, trajectories, changes):
        cli.add_command(command)


def _console():
    from rich.console import Console

    return Console(stderr=True)


@click.command()
@click.option("--form", "form", required=True,
              help="An XLSForm file (.xlsx, .xls, .csv, .md) or a published form_id.")
@click.option("--spec", default=None,
              help="A scoring spec version (published, or installed) or a spec file "
                   "[default: the form's].")
@click.argument("input_path", metavar="INPUT",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
def score(form, spec, input_path, db_path):
    """Score the records of INPUT (.jsonl, or .csv incl. Kobo/Central exports).

    Prints one JSON line per record: {"instance_id", "scoring_version", "scores",
    "indicators", "warnings"}; progress and a summary go to stderr.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    db = store(db_path) if os.path.exists(db_path) else None  # a form file needs none
    results = score_api(form, input_path, db=db, spec=spec)
    console = _console()
    counts = {"records": 0, "unscored": 0, "warnings": 0}
    start = time.perf_counter()
    out = sys.stdout
    with Progress(SpinnerColumn(), TextColumn("scored {task.completed:,.0f} records"),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task("score", total=None)
        for result in results:
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
            counts["records"] += 1
            counts["unscored"] += result["scores"].get("composite") is None
            counts["warnings"] += bool(result["warnings"])
            if counts["records"] % 500 == 0:
                progress.update(task, completed=counts["records"])
    out.flush()
    version = result["scoring_version"] if counts["records"] else (spec or "the form's spec")
    console.print(f"scored {counts['records']:,} record(s) with {version} in "
                  f"{time.perf_counter() - start:.1f} s: {counts['unscored']} not scored, "
                  f"{counts['warnings']} with warnings", highlight=False)


@click.group()
def scoring():
    """Publish and list scoring specs; list rescoring jobs."""


@scoring.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-rescore", is_flag=True, help="Do not queue rescoring of stored records.")
@db_option
def scoring_publish(file, no_rescore, db_path):
    """Publish a scoring spec (JSON); queues rescoring of the form's stored records.

    Prints VERSION FORM_ID, then the queued job on stderr; run it with
    `fieldsync rescore` or let `fieldsync worker` run it in the background.
    """
    answer = scoring_specs.scoring_publish(store(db_path), file.read_bytes(), actor="cli",
                                           queue_rescoring=not no_rescore)
    click.echo(f"{answer['version']} {answer['form_id']}")
    if not answer["created"]:
        click.echo("(already published with the same content)", err=True)
    elif answer["job"]:
        job = answer["job"]
        click.echo(f"queued rescoring job {job['id']}: {job['total']:,} record(s)", err=True)


@scoring.command("list")
@click.option("--form", "form_id", default=None, help="Only the specs of this form.")
@db_option
def scoring_list(form_id, db_path):
    """List published scoring specs: VERSION FORM_ID PUBLISHED_AT PUBLISHED_BY."""
    for s in scoring_specs.scoring_list(store(db_path), form_id):
        click.echo(f"{s['version']}\t{s['form_id']}\t{s['published_at']}\t"
                   f"{s['published_by'] or ''}")


@scoring.command("jobs")
@click.option("--form", "form_id", default=None, help="Only the jobs of this form.")
@db_option
def scoring_jobs(form_id, db_path):
    """List rescoring jobs, newest first: ID FORM VERSION STATE PROCESSED/TOTAL."""
    for j in rescore_api.jobs(store(db_path), form_id):
        click.echo(f"{j['id']}\t{j['form_id']}\t{j['scoring_version']}\t{j['state']}\t"
                   f"{j['processed']}/{j['total']}\t{j['error'] or ''}")


@click.command()
@click.option("--form", "form_id", default=None,
              help="Queue rescoring of this form first (else: run the queued jobs).")
@click.option("--spec", "version", default=None,
              help="With --form: a published spec version [default: the form's current].")
@click.option("--batch", default=rescore_api.DEFAULT_BATCH, show_default=True, type=int,
              help="Records per committed batch.")
@db_option
def rescore(form_id, version, batch, db_path):
    """Rescore stored records in the foreground, with a progress bar and a summary.

    Runs the queued rescoring jobs (those `fieldsync scoring publish` queued); with
    --form, queues one for that form and spec first. Interrupted, it resumes from
    the last committed batch.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if version and not form_id:
        raise click.UsageError("--spec needs --form.")
    console = _console()
    start = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as progress:
        tasks: dict[int, int] = {}

        def show(job):
            if job["id"] not in tasks:
                tasks[job["id"]] = progress.add_task(
                    f"{job['form_id']} {job['scoring_version']}", total=job["total"])
            progress.update(tasks[job["id"]], completed=job["processed"])

        summary = rescore_api.rescore(store(db_path), form_id, version, batch=batch,
                                      progress=show, actor="cli")
    elapsed = time.perf_counter() - start
    rate = summary["processed"] / elapsed if elapsed > 0 else 0
    click.echo(f"{len(summary['jobs'])} job(s): {summary['processed']:,} record(s) read, "
               f"{summary['rescored']:,} rescored, {summary['skipped']:,} skipped (spec does "
               f"not fit their form version) in {elapsed:.1f} s ({rate:,.0f}/s)", err=True)
    failed = [j for j in summary["jobs"] if j["state"] == "failed"]
    for job in failed:
        click.echo(f"fieldsync: error: rescoring job {job['id']} failed: {job['error']}",
                   err=True)
    if failed:
        sys.exit(1)


@click.command()
@click.option("--form", "form_id", required=True, help="A published form_id, e.g. rss.")
@click.option("--by", default="country", show_default=True,
              help=f"Comma-separated groupings: {', '.join(BY_CHOICES)}.")
@click.option("--spec", "version", default=None,
              help="Scores of this spec version [default: the form's current].")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@db_option
def trends(form_id, by, version, fmt, db_path):
    """Reintegration trends: n, mean, median and 95% CI of each score per group,
    over the current version of each record (no conflicts, rejected or duplicates)."""
    result = trends_api(store(db_path), form_id, by, version)
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    _print_table(result)


@click.command()
@click.option("--form", "form_id", required=True, help="A published form_id, e.g. rss.")
@click.option("--case-id", default=None, help="One returnee's case id.")
@click.option("--spec", "version", default=None,
              help="Scores of this spec version [default: the form's current].")
@click.option("--limit", type=int, default=100, show_default=True, help="People per page.")
@click.option("--after", default=None, help="The page after this person (`next`).")
@db_option
def trajectories(form_id, case_id, version, limit, after, db_path):
    """Each returnee's scores round by round, one person a line."""
    answer = trends_module.trajectories(store(db_path), form_id, case_id=case_id,
                                        scoring_version=version, limit=limit, after=after)
    for person in answer["people"]:
        click.echo(json.dumps(person, ensure_ascii=False))
    if answer["next"]:
        click.echo(f"more: --after {answer['next']}", err=True)


@click.command()
@click.option("--form", "form_id", required=True, help="A published form_id, e.g. rss.")
@click.option("--from", "from_round", required=True, help="The earlier round, e.g. baseline.")
@click.option("--to", "to_round", required=True, help="The later round, e.g. 6m.")
@click.option("--by", default="", help="Comma-separated: country, sex, months_since_return.")
@click.option("--tolerance", type=float, default=trends_module.DEFAULT_TOLERANCE,
              show_default=True, help="A composite moving less than this 'stayed'.")
@click.option("--spec", "version", default=None,
              help="Scores of this spec version [default: the form's current].")
@db_option
def changes(form_id, from_round, to_round, by, tolerance, version, db_path):
    """Paired change of each score between two rounds of the same people (JSON)."""
    click.echo(json.dumps(trends_module.changes(store(db_path), form_id, from_round, to_round,
                                                by, tolerance, version), ensure_ascii=False))


def _print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    names = list(result["groups"][0]["scores"]) if result["groups"] else []
    table = Table(title=f"{result['form_id']} scores ({result['scoring_version']}), "
                        f"{result['n']:,} record(s)")
    for key in result["by"]:
        table.add_column(key)
    table.add_column("n", justify="right")
    for name in names:
        table.add_column(f"{name}\nmean [95% CI]", justify="right")
        table.add_column("median", justify="right")
    for group in result["groups"]:
        cells = [str(v) if v is not None else "-" for v in group["group"].values()]
        cells.append(str(group["n"]))
        for name in names:
            s = group["scores"][name]
            ci = f" [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]" if s["ci95"] else ""
            cells.append(f"{s['mean']:.3f}{ci}" if s["mean"] is not None else "-")
            cells.append(f"{s['median']:.3f}" if s["median"] is not None else "-")
        table.add_row(*cells)
    Console(width=max(120, 20 + 34 * len(names))).print(table)
