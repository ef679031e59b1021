"""``medianest requests``: list media requests, approve or decline them from a terminal.

The actions go through the same service as the API: the backend first, then the hub, audited,
with their events and live messages. They act as the system (audit actor ``system``), or as a
named person with ``--as USERNAME``, who must hold ``manage_requests`` (the backend then sees
that person, not its admin). A request that does not exist, or an action that does not apply,
exits with status 1 and says why.
"""

from __future__ import annotations

import json
from typing import Any

import click

from medianest.core.auth.linked import acting_principal
from medianest.core.auth.principals import principal_for
from medianest.core.cli._common import Context, handles_errors, out, plain_table, run
from medianest.core.cli._hub import services
from medianest.core.db.models import User
from medianest.core.requests import STATUSES, SYSTEM, RequestQuery, RequestView
from medianest.sdk.access import Permission
from medianest.sdk.errors import NotFoundError, PermissionDeniedError
from medianest.sdk.models import Principal

AS_HELP = "Act as this person (who holds manage_requests) instead of as the system."


@click.group("requests")
def requests_group() -> None:
    """Media requests: list them, approve or decline them."""


@requests_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only requests with this status.")
@click.option("--user", "username", help="Only this person's requests (a username).")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the requests as JSON lines.")
@click.pass_obj
@handles_errors
def requests_list(
    obj: Context, status: str | None, username: str | None, limit: int, as_json: bool
) -> None:
    """Show requests, newest first."""
    settings = obj.settings()

    async def load() -> tuple[list[RequestView], int]:
        async with services(settings) as hub:
            with hub.database.activate():
                user = await _user(username) if username else None
                page = await hub.requests.list(
                    SYSTEM,
                    RequestQuery(
                        everyone=user is None,
                        user=user.id if user else None,
                        status=(status,) if status else (),
                        limit=limit,
                    ),
                )
                return page.items, page.total

    items, total = run(load())
    if as_json:
        for view in items:
            click.echo(json.dumps(view.to_json(), sort_keys=True))
        return
    table = plain_table("id", "status", "kind", "title", "requested by", "backend", "created")
    for view in items:
        table.add_row(
            str(view.id),
            view.status,
            view.kind,
            _title(view),
            view.requested_by.username,
            view.backend,
            view.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
    out.print(table)
    out.print(f"{len(items)} of {total} request(s)", markup=False)


@requests_group.command("approve")
@click.argument("request_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--as", "as_user", metavar="USERNAME", help=AS_HELP)
@click.pass_obj
@handles_errors
def requests_approve(obj: Context, request_id: int, as_user: str | None) -> None:
    """Approve request REQUEST_ID, in its backend and on the hub."""
    view = _act(obj, request_id, "approve", as_user, None)
    out.print(f"approved request {request_id} ({_title(view)}): {view.status}", markup=False)


@requests_group.command("decline")
@click.argument("request_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--reason", help="Why, told to the person who asked.")
@click.option("--as", "as_user", metavar="USERNAME", help=AS_HELP)
@click.pass_obj
@handles_errors
def requests_decline(
    obj: Context, request_id: int, reason: str | None, as_user: str | None
) -> None:
    """Decline request REQUEST_ID, with a reason."""
    view = _act(obj, request_id, "decline", as_user, reason)
    out.print(f"declined request {request_id} ({_title(view)})", markup=False)


def _act(
    obj: Context, request_id: int, action: Any, as_user: str | None, reason: str | None
) -> RequestView:
    settings = obj.settings()

    async def act() -> RequestView:
        async with services(settings) as hub:
            with hub.database.activate():
                principal = await _acting(as_user) if as_user else SYSTEM
                view = await hub.requests.act(principal, request_id, action, reason=reason)
            assert view is not None
            return view

    result: RequestView = run(act())
    return result


async def _user(username: str) -> User:
    user = await User.get_or_none(username=username)
    if user is None:
        raise NotFoundError(f"no user named {username!r}")
    return user


async def _acting(username: str) -> Principal:
    user = await _user(username)
    principal = await acting_principal(principal_for(user))
    if not user.is_active or not principal.has(Permission.MANAGE_REQUESTS):
        raise PermissionDeniedError(
            f"{username} may not act on requests (needs manage_requests and an active account)",
            permission=Permission.MANAGE_REQUESTS.value,
        )
    return principal


def _title(view: RequestView) -> str:
    title = view.title or "untitled"
    return f"{title} ({view.year})" if view.year else title
