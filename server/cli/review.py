"""`fieldsync review ...`: wrappers of server.review.actions.

Each command calls the function of the same name (``review_queue``,
``review_show``, ``review_set``, ``review_resolve``, ``review_duplicates``,
``review_rules``) and prints its answer as JSON (one object per line for lists).
"""

from __future__ import annotations

import json

import click

from server.review import actions as review
from server.cli.common import db_option, store


def register(cli: click.Group) -> None:
    cli.add_command(review_group)


def _filters(func):
    for opt in (
        click.option("--until", help="Received before this date/time (ISO)."),
        click.option("--since", help="Received at or after this date/time (ISO)."),
        click.option("--enumerator", help="Only records sent by this user."),
        click.option("--device", help="Only records from this device id."),
        click.option("--form", "form_id", help="Only this form_id."),
        click.option("--limit", type=int, default=100, show_default=True),
        click.option("--after", type=int, default=0, help="Page after this id (`next`)."),
    ):
        func = opt(func)
    return func


def _echo(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, sort_keys=False))


@click.group("review")
def review_group():
    """Review flagged records, conflicts, quarantine and probable duplicates."""


@review_group.command("queue")
@click.option("--kind", type=click.Choice(review.KINDS), default="flagged",
              show_default=True, help="Which queue.")
@click.option("--state", default="open", show_default=True,
              help="open (received, has_issues), all, or one review state.")
@_filters
@db_option
def review_queue(kind, state, db_path, **filters):
    """Print a supervisor's queue, one JSON record a line."""
    answer = review.review_queue(store(db_path), kind, state=state, **filters)
    for item in answer["items"]:
        _echo(item)


@review_group.command("show")
@click.argument("instance_id")
@db_option
def review_show(instance_id, db_path):
    """Print a record with its review history and probable duplicates (and why)."""
    _echo(review.review_show(store(db_path), instance_id))


@review_group.command("set")
@click.argument("instance_id")
@click.argument("state", type=click.Choice(review.REVIEW_STATES))
@click.option("--comment", help="Why; kept in the review history.")
@click.option("--by", "actor", default="cli", show_default=True, help="Reviewer's name.")
@db_option
def review_set(instance_id, state, comment, actor, db_path):
    """Set a record's review state: received, has_issues, approved or rejected."""
    answer = review.review_set(store(db_path), instance_id, state, comment, actor=actor)
    click.echo(f"{answer['instance_id']} {answer['review_state']} seq {answer['seq']}")


@review_group.command("comment")
@click.argument("instance_id")
@click.argument("text")
@click.option("--by", "actor", default="cli", show_default=True, help="Who comments.")
@db_option
def review_comment(instance_id, text, actor, db_path):
    """Add a comment to a record's review history; its review state is unchanged."""
    answer = review.review_comment(store(db_path), instance_id, text, actor=actor)
    click.echo(f"{instance_id}: comment by {answer['actor']} at {answer['at']}")


@review_group.command("duplicates")
@click.option("--status", type=click.Choice(("open", "resolved", "all")), default="open",
              show_default=True)
@_filters
@db_option
def review_duplicates(status, db_path, **filters):
    """Print probable-duplicate matches with reasons and differences, one a line."""
    for match in review.review_duplicates(store(db_path), status=status,
                                          **filters)["duplicates"]:
        _echo(match)


@review_group.command("resolve")
@click.argument("match_id", type=int)
@click.argument("action", type=click.Choice(review.ACTIONS))
@click.option("--duplicate", help="mark_duplicate: the instance_id that is the duplicate "
              "(default: the newer record).")
@click.option("--base", help="merge: the instance_id whose record continues "
              "(default: the earlier record).")
@click.option("--take", multiple=True, help="merge: a field path whose answer is taken "
              "from the other record (repeatable).")
@click.option("--value", "values", multiple=True, metavar="PATH=VALUE",
              help="merge: set this answer (repeatable).")
@click.option("--comment", help="Why; kept with the resolution.")
@click.option("--by", "actor", default="cli", show_default=True, help="Reviewer's name.")
@db_option
def review_resolve(match_id, action, duplicate, base, take, values, comment, actor, db_path):
    """Resolve a probable duplicate: keep_both, mark_duplicate or merge."""
    pairs = {}
    for item in values:
        path, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"'{item}' is not PATH=VALUE", param_hint="--value")
        pairs[path] = value
    _echo(review.review_resolve(store(db_path), match_id, action, duplicate=duplicate,
                                base=base, take=list(take), values=pairs, comment=comment,
                                actor=actor))


@review_group.command("rules")
@click.option("--form", "form_id", default="rss", show_default=True)
@click.option("--set", "changes", multiple=True, metavar="NAME=VALUE",
              help="Change a rule, e.g. --set reinterview_days=45 (repeatable).")
@click.option("--by", "actor", default="cli", show_default=True)
@db_option
def review_rules(form_id, changes, actor, db_path):
    """Show (or change) a form's duplicate-detection rules and thresholds."""
    parsed = {}
    for item in changes:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"'{item}' is not NAME=VALUE", param_hint="--set")
        parsed[name] = value
    _echo(review.review_rules(store(db_path), form_id, parsed or None, actor=actor))
