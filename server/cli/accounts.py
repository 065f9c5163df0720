"""`fieldsync user ...` and `fieldsync token ...`: wrappers of server.accounts.users."""

from __future__ import annotations

import sys

import click

from server.accounts import users as accounts
from server.cli.common import db_option, store


def register(cli: click.Group) -> None:
    cli.add_command(user)
    cli.add_command(token)


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
@db_option
def user_list(db_path):
    """List users and their roles."""
    for u in accounts.user_list(store(db_path)):
        click.echo(f"{u['name']}\t{u['role']}\t{u['created_at']}")


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
