"""The `egocurate user` commands: accounts and roles for the app's sign-in (registered on app.cli's main).

    egocurate [--root DIR] user add NAME [--role viewer|curator|admin] [--password-stdin] | list
    egocurate [--root DIR] user set-role NAME ROLE | passwd NAME [--password-stdin] | unlock NAME | remove NAME
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click


@click.group()
def user() -> None:
    """Users and roles (viewer < curator < admin) for the app's sign-in.

    These commands act as a local operator: whoever can run them can read and write the store's
    files anyway, so they need no sign-in (the audit log records them as cli:$USER). While the store
    has no users the app runs in open local mode (localhost only, everyone admin); the first
    `user add NAME --role admin` turns sign-in on.
    """


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


def _new_password(password_stdin: bool) -> str:
    if password_stdin:  # one line, for scripts: printf '%s\n' "$PW" | egocurate user add ann --password-stdin
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "curator", "admin"]), default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (no prompt).")
@click.pass_obj
def user_add(root: Path, name: str, role: str, password_stdin: bool) -> None:
    """Create user NAME (the password is asked twice, hidden)."""
    from db import auth

    try:
        auth.check_name(name)
        auth.add_user(root, name, _new_password(password_stdin), role, actor=_operator())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {name!r} added as {role}")


@user.command("list")
@click.pass_obj
def user_list(root: Path) -> None:
    """The users, their roles and how many live sessions each holds."""
    from db import auth

    users = auth.list_users(root)
    if not users:
        click.echo("no users: the app runs in open local mode (localhost only, everyone admin)")
    for info in users:
        click.echo(f"{info.name:<24} {info.role:<8} sessions {info.active_sessions:<3} "
                   f"created {info.created_at:%Y-%m-%d %H:%M} UTC")


@user.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(["viewer", "curator", "admin"]))
@click.pass_obj
def user_set_role(root: Path, name: str, role: str) -> None:
    """Give NAME another role (it holds from their next action on)."""
    from db import auth

    try:
        auth.set_role(root, name, role, actor=_operator())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {name!r} is now {role}")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (no prompt).")
@click.pass_obj
def user_passwd(root: Path, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME; their open sessions end."""
    from db import auth

    try:
        ended = auth.set_password(root, name, _new_password(password_stdin), actor=_operator())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"password of {name!r} changed; {ended} session(s) ended")


@user.command("unlock")
@click.argument("name")
@click.pass_obj
def user_unlock(root: Path, name: str) -> None:
    """Let NAME sign in again now, after too many failed attempts (by them or by someone guessing)."""
    from db import auth

    try:
        failures = auth.unlock(root, name, actor=_operator())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {name!r} unlocked ({failures} recent failed sign-in(s) forgotten)")


@user.command("remove")
@click.argument("name")
@click.pass_obj
def user_remove(root: Path, name: str) -> None:
    """Delete user NAME and end their sessions (their past decisions keep their name)."""
    from db import auth

    try:
        auth.remove_user(root, name, actor=_operator())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {name!r} removed")
