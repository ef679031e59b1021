"""``medianest users``: create the first admin (a local account) and list users.

``create-admin`` never has a default password: on a terminal it asks for one twice without
echoing it; scripts (and Docker) give it on the first line of standard input with
``--password-stdin``.
A refused username or password exits with status 2 and says why; success is recorded in the
audit log (actor ``cli``). Neither command ever prints a password.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from medianest.core.auth import audit
from medianest.core.auth.local import PROVIDER_ID, create_account, valid_username
from medianest.core.auth.passwords import check_strength
from medianest.core.cli._common import (
    Context,
    handles_errors,
    out,
    plain_table,
    print_error,
    run,
)
from medianest.core.cli._hub import services
from medianest.core.db.models import User
from medianest.sdk.errors import ConflictError, InvalidInputError


@click.group("users")
def users_group() -> None:
    """People who use the hub, and local accounts."""


@users_group.command("create-admin")
@click.option("--username", help="The admin's username (asked for when not given).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of asking.",
)
@click.pass_obj
@handles_errors
def create_admin(obj: Context, username: str | None, password_stdin: bool) -> None:
    """Create an admin who signs in with a username and password (the "local" method)."""
    settings = obj.settings()
    try:
        if not password_stdin and not click.get_text_stream("stdin").isatty():
            raise InvalidInputError(
                "standard input is not a terminal, so the password cannot be asked for "
                "without echoing it: pass --username and --password-stdin",
                field="password",
            )
        if username is None:
            if password_stdin:
                raise InvalidInputError("--password-stdin needs --username", field="username")
            username = click.prompt("Username")
        name = valid_username(username)
        password = _read_password(password_stdin)
        check_strength(password, username=name)
    except InvalidInputError as exc:
        _refuse(exc)

    async def create() -> User:
        async with services(settings) as hub:
            with hub.database.activate():
                user = await create_account(name, password)
                await audit.record(
                    "user.created",
                    actor_label="cli",
                    target=f"user:{user.id}",
                    details={"username": user.username, "role": user.role, "via": PROVIDER_ID},
                )
                return user

    try:
        user = run(create())
    except (InvalidInputError, ConflictError) as exc:
        _refuse(exc)
    out.print(
        f"created admin {user.username!r} (id {user.id}); "
        "sign in with a local account on the sign-in page",
        markup=False,
    )


@users_group.command("list")
@click.pass_obj
@handles_errors
def users_list(obj: Context) -> None:
    """Show every user: role, whether active, sign-in methods, last sign-in."""
    settings = obj.settings()

    async def load() -> list[User]:
        async with services(settings) as hub:
            with hub.database.activate():
                return await User.all().order_by("id").prefetch_related("identities")

    table = plain_table("id", "username", "role", "active", "sign-in methods", "last sign-in")
    for user in run(load()):
        last = user.last_sign_in_at
        table.add_row(
            str(user.id),
            user.username,
            user.role,
            "yes" if user.is_active else "no",
            ", ".join(sorted({link.provider for link in user.identities})) or "-",
            last.strftime("%Y-%m-%d %H:%M UTC") if last else "never",
        )
    out.print(table)


def _read_password(from_stdin: bool) -> str:
    """The password from standard input's first line, or asked twice without echo.

    :raises InvalidInputError: standard input is empty, or the two answers differ.
    """
    if from_stdin:
        line = click.get_text_stream("stdin").readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise InvalidInputError("no password on standard input", field="password")
        return password
    password = click.prompt("Password", hide_input=True)
    if click.prompt("Repeat the password", hide_input=True) != password:
        raise InvalidInputError("the two passwords differ", field="password")
    return password


def _refuse(error: InvalidInputError | ConflictError) -> NoReturn:
    """Say why the input was refused and exit with status 2."""
    print_error(error.message)
    sys.exit(2)
