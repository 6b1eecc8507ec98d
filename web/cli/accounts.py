"""Commands for accounts: creating users and linking them to technicians."""

from __future__ import annotations

import sys

import click

from dispatch.accounts import link_technician
from dispatch.enums import Role
from dispatch.users import AccountError, create_user
from web.cli._common import (
    TEXT,
    InputError,
    cli,
    is_utf8,
    transaction,
)


@cli.command("create-user")
@click.argument("username", type=TEXT)
@click.option("--full-name", type=TEXT, required=True)
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role])
)
@click.option(
    "--password",
    type=TEXT,
    help="The password (left in shell history: prefer the prompt or --password-stdin).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input.",
)
@click.option(
    "--technician",
    "technician_code",
    type=TEXT,
    metavar="CODE",
    help="Sign in as this technician (with --role technician).",
)
@click.pass_context
def create_user_command(
    ctx: click.Context,
    username: str,
    full_name: str,
    roles: tuple[str, ...],
    password: str | None,
    password_stdin: bool,
    technician_code: str | None,
) -> None:
    """Add a user who can sign in; without --password, asks for it on a terminal."""
    if technician_code is not None and Role.TECHNICIAN.value not in roles:
        raise InputError("--technician needs --role technician")
    secret = _password(password, password_stdin)
    try:
        with transaction(ctx) as session:
            user = create_user(
                session,
                username=username,
                password=secret,
                roles=[Role(r) for r in roles],
                full_name=full_name,
            )
            linked_name = (
                link_technician(session, user.username, technician_code).name
                if technician_code is not None
                else None
            )
    except AccountError as exc:
        raise InputError(str(exc)) from None
    click.echo(f"Created {username} ({', '.join(roles)}).")
    if linked_name is not None:
        click.echo(f"{username} signs in as technician {technician_code} ({linked_name}).")
    elif Role.TECHNICIAN.value in roles:
        click.echo(
            f"The phone app shows {username} no jobs until the account is linked:"
            f" fieldops link-technician {username} CODE"
        )


def _password(given: str | None, from_stdin: bool) -> str:
    """The password from the option, standard input, or a prompt when there is a terminal."""
    if given is not None and from_stdin:
        raise InputError("give --password or --password-stdin, not both")
    if given is not None:
        return given
    if from_stdin:
        line = sys.stdin.readline().rstrip("\n").rstrip("\r")
        if not line:
            raise InputError("--password-stdin: standard input holds no password")
        if not is_utf8(line):
            raise InputError("--password-stdin: standard input is not UTF-8 text")
        return line
    if not sys.stdin.isatty():
        raise InputError("no terminal to ask for the password: pipe it in with --password-stdin")
    password: str = click.prompt("Password", type=TEXT, hide_input=True, confirmation_prompt=True)
    return password


@cli.command("link-technician")
@click.argument("username", type=TEXT)
@click.argument("code", type=TEXT)
@click.pass_context
def link_technician_command(ctx: click.Context, username: str, code: str) -> None:
    """Let USERNAME (a technician account) sign in as the technician CODE."""
    try:
        with transaction(ctx) as session:
            technician = link_technician(session, username, code)
            name = technician.name
    except AccountError as exc:
        raise InputError(str(exc)) from None
    click.echo(f"{username} signs in as technician {code} ({name}).")
