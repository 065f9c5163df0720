"""`fieldsync user ...`, `fieldsync token ...` and `fieldsync throttle ...`:
wrappers of server.accounts.users and server.accounts.throttle."""

from __future__ import annotations

import sys

import click

from server.accounts import throttle as throttles
from server.accounts import users as accounts
from server.cli.common import db_option, store


def register(cli: click.Group) -> None:
    cli.add_command(user)
    cli.add_command(token)
    cli.add_command(throttle)


@click.group()
def user():
    """Manage user accounts and their roles."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES),
              help="What the user may do.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@db_option
def user_add(name, role, password_stdin, db_path):
    """Create user NAME with a role (admin, supervisor, enumerator, analyst, peer)."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    created = accounts.user_add(store(db_path), name, role, password, actor="cli")
    click.echo(f"created user {created['name']} ({created['role']})", err=True)


@user.command("list")
@click.option("--deleted", is_flag=True, help="Include deleted accounts.")
@db_option
def user_list(deleted, db_path):
    """List users: name, role, created, and 'disabled' or 'deleted' where so."""
    for u in accounts.user_list(store(db_path), include_deleted=deleted):
        state = "deleted" if u["deleted_at"] else "disabled" if u["disabled_at"] else "active"
        click.echo(f"{u['name']}\t{u['role']}\t{u['created_at']}\t{state}")


@user.command("disable")
@click.argument("name")
@db_option
def user_disable(name, db_path):
    """Refuse NAME on every door at once (tokens and password kept for `enable`)."""
    accounts.user_disable(store(db_path), name, actor="cli")
    click.echo(f"disabled {name}; the records it sent stay", err=True)


@user.command("enable")
@click.argument("name")
@db_option
def user_enable(name, db_path):
    """Let a disabled NAME sign in again."""
    accounts.user_enable(store(db_path), name, actor="cli")
    click.echo(f"enabled {name}", err=True)


@user.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
def user_delete(name, yes, db_path):
    """Delete NAME: tokens revoked, password erased, the name never reused; the
    records it sent keep it as their author."""
    if not yes:
        click.confirm(f"Delete the account {name}? It can never sign in again", abort=True)
    gone = accounts.user_delete(store(db_path), name, actor="cli")
    click.echo(f"deleted {name} ({gone['tokens_revoked']} token(s) revoked)", err=True)


@user.command("password-reset")
@click.argument("name")
@db_option
def password_reset(name, db_path):
    """Set a new password for NAME (read from the first line of standard input)
    and lift its sign-in throttle."""
    new = sys.stdin.readline().rstrip("\r\n")
    accounts.password_reset(store(db_path), name, new, actor="cli")
    click.echo(f"password of {name} reset", err=True)


@user.command("password-change")
@click.argument("name")
@db_option
def password_change(name, db_path):
    """NAME changes their own password: the old one on the first line of standard
    input, the new one on the second."""
    old = sys.stdin.readline().rstrip("\r\n")
    new = sys.stdin.readline().rstrip("\r\n")
    accounts.password_change(store(db_path), name, old, new, address="cli")
    click.echo(f"password of {name} changed", err=True)


@click.group()
def token():
    """Issue and revoke bearer tokens."""


@token.command("create")
@click.argument("name")
@db_option
def token_create(name, db_path):
    """Print one new bearer token for user NAME on stdout, nothing else."""
    click.echo(accounts.token_create(store(db_path), name, actor="cli"))


@token.command("revoke")
@click.argument("name")
@db_option
def token_revoke(name, db_path):
    """Revoke every token of user NAME."""
    count = accounts.token_revoke(store(db_path), name, actor="cli")
    click.echo(f"revoked {count} token(s) of {name}", err=True)


@click.group()
def throttle():
    """See and lift the back-off after failed sign-ins."""


@throttle.command("list")
@db_option
def throttle_list(db_path):
    """List throttled keys: key, failures, seconds until it is lifted (0: counting)."""
    for t in throttles.list_throttles(store(db_path)):
        click.echo(f"{t['key']}\t{t['failures']}\t{t['retry_after']}\t{t['last_failed_at']}")


@throttle.command("clear")
@click.argument("key")
@db_option
def throttle_clear(key, db_path):
    """Lift the throttle KEY (user:NAME or address:ADDR) and forget its failures."""
    throttles.clear(store(db_path), key, actor="cli")
    click.echo(f"cleared {key}", err=True)
