"""Tickets for the live socket: an API client asks for one (signed in or with an API key)
and opens ``/api/v1/live?ticket=...`` once, within 30 s, on any replica, without Origin; the
socket holds no more than the ticket's permissions and closes 4401 for a ticket that is
unknown, spent, expired or whose person was deactivated."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart.testing.connections import WebsocketDisconnectError

from medianest.core.auth import api_keys
from medianest.core.db.models import User
from medianest.core.web.live import (
    CLOSE_UNAUTHENTICATED,
    LIVE_PATH,
    TICKET_PATH,
    broker_of,
)
from medianest.core.web.live_tickets import Ticket, issue
from medianest.sdk.access import Permission
from tests.services import SECRET_KEY

WAIT = 5.0


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator[Any]:
    async with medianest_hub.run(**mode) as hub:
        yield hub


async def receive(socket) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket.receive(), WAIT))


async def closed_with(socket) -> int:
    with pytest.raises(WebsocketDisconnectError) as ended:
        while True:
            await asyncio.wait_for(socket.receive(), WAIT)
    return ended.value.args[0]


async def subscribe(socket, *topics: str) -> dict[str, Any]:
    await socket.send(json.dumps({"type": "subscribe", "topics": list(topics)}))
    return await receive(socket)


async def ticket_for(running, headers: dict[str, str]) -> dict[str, Any]:
    response = await running.client.post(TICKET_PATH, headers=headers)
    assert response.status_code == 201, await response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return await response.get_json()


async def key_headers(running, *, permissions: list[str], scopes: list[str]) -> dict[str, str]:
    with running.hub.database.activate():
        user = await User.create(username="keyholder", role="user", permissions=permissions)
        issued = await api_keys.issue(user, name="live", permissions=scopes)
    return {"Authorization": f"Bearer {issued.key}"}


async def test_an_api_key_gets_a_ticket_that_opens_the_socket_once(running) -> None:
    headers = await key_headers(running, permissions=["run_syncs"], scopes=["run_syncs"])
    body = await ticket_for(running, headers)
    assert body["expires_in"] == 30 and body["url"] == f"{LIVE_PATH}?ticket={body['ticket']}"
    client = running.app.test_client(use_cookies=False)
    async with client.websocket(body["url"]) as socket:  # no Origin, no header
        assert (await subscribe(socket, "sync"))["topics"] == ["sync"]
        await running.hub.pubsub.publish("sync", {"run": {"id": 1}})
        assert (await receive(socket))["data"] == {"run": {"id": 1}}
    async with client.websocket(body["url"]) as socket:
        assert await closed_with(socket) == CLOSE_UNAUTHENTICATED


async def test_a_ticket_from_another_origin_page_still_opens(running) -> None:
    """The ticket is the credential: Origin is not checked (cookies would be)."""
    body = await ticket_for(running, await running.sign_in())
    client = running.app.test_client()
    async with client.websocket(body["url"], headers={"Origin": "https://elsewhere.example"}) as s:
        assert (await subscribe(s, "me"))["topics"] == ["me"]


@pytest.mark.parametrize("value", ["", "nope", "x" * 500])
async def test_an_unknown_ticket_closes_4401(running, value: str) -> None:
    async with running.app.test_client().websocket(f"{LIVE_PATH}?ticket={value}") as socket:
        assert await closed_with(socket) == CLOSE_UNAUTHENTICATED


async def test_an_expired_ticket_closes_4401(running) -> None:
    with running.hub.database.activate():
        user = await User.create(username="late", role="user")
    broker = broker_of(running.app)
    value = await issue(broker.tickets(), Ticket(user.id, ["search"]), seconds=0.05)
    await asyncio.sleep(0.1)
    async with running.app.test_client().websocket(f"{LIVE_PATH}?ticket={value}") as socket:
        assert await closed_with(socket) == CLOSE_UNAUTHENTICATED


async def test_the_ticket_carries_no_more_than_the_permissions_at_issue(running) -> None:
    headers = await key_headers(running, permissions=["run_syncs", "search"], scopes=["search"])
    body = await ticket_for(running, headers)
    async with running.app.test_client().websocket(body["url"]) as socket:
        refused = await subscribe(socket, "sync")
        assert refused["code"] == "forbidden" and refused["permission"] == "run_syncs"


async def test_a_ticket_is_checked_against_the_person_as_they_are_now(running) -> None:
    headers = await running.sign_in(username="leaving", permissions=[Permission.RUN_SYNCS])
    demoted = await ticket_for(running, headers)
    deactivated = await ticket_for(running, headers)
    with running.hub.database.activate():
        user = await User.get(username="leaving")
        user.permissions = ["search"]
        await user.save()
    await running.hub.sessions.users.changed(user.id)
    async with running.app.test_client().websocket(demoted["url"]) as socket:
        assert (await subscribe(socket, "sync"))["code"] == "forbidden"
    with running.hub.database.activate():
        user.is_active = False
        await user.save()
    await running.hub.sessions.users.changed(user.id)
    async with running.app.test_client().websocket(deactivated["url"]) as socket:
        assert await closed_with(socket) == CLOSE_UNAUTHENTICATED


async def test_a_ticket_needs_a_signed_in_caller(running) -> None:
    response = await running.client.post(TICKET_PATH)
    assert response.status_code == 401


@pytest.fixture
async def replicas(medianest_hub, postgres_url, redis_url) -> AsyncIterator[tuple]:
    shared = {"database_url": postgres_url, "redis_url": redis_url, "secret_key": SECRET_KEY}
    async with (
        medianest_hub.run(**shared) as first,
        medianest_hub.run(**shared) as second,
    ):
        yield first, second


async def test_a_ticket_issued_by_one_replica_opens_a_socket_on_the_other_once(
    replicas,
) -> None:
    first, second = replicas
    body = await ticket_for(first, await first.sign_in(role="admin"))
    assert (await first.hub.state.redis.keys("medianest:live-ticket:*")) != []
    assert body["ticket"] not in str(await first.hub.state.redis.keys("medianest:live-ticket:*"))
    async with second.app.test_client().websocket(body["url"]) as socket:
        assert (await subscribe(socket, "health"))["topics"] == ["health"]
    async with first.app.test_client().websocket(body["url"]) as socket:
        assert await closed_with(socket) == CLOSE_UNAUTHENTICATED
