"""The live-updates WebSocket: who may open it, what each person may follow, and that what
any replica or worker publishes reaches every subscriber (embedded and scaled modes, and two
replicas sharing Redis)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart.testing.connections import WebsocketDisconnectError

from medianest.core.db.models import User
from medianest.core.events import publish_to_person
from medianest.core.sync.runs import RunKind, Trigger
from medianest.core.web.live import (
    CLOSE_FORBIDDEN_ORIGIN,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHENTICATED,
    LIVE_PATH,
    LiveBroker,
    broker_of,
)
from medianest.sdk.access import Permission
from tests.services import SECRET_KEY
from tests.sync.conftest import SYNC_SETTINGS
from tests.sync.fake_source import FakeLibrary, FakePlugin

WAIT = 5.0


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator[Any]:
    async with medianest_hub.run(
        {"fake": FakePlugin(FakeLibrary("fake", 300))}, sync=SYNC_SETTINGS, **mode
    ) as hub:
        yield hub


async def receive(socket) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket.receive(), WAIT))


async def closed_with(socket) -> int:
    """The close code the server ended ``socket`` with."""
    with pytest.raises(WebsocketDisconnectError) as ended:
        while True:
            await asyncio.wait_for(socket.receive(), WAIT)
    return ended.value.args[0]


async def subscribe(socket, *topics: str) -> dict[str, Any]:
    await socket.send(json.dumps({"type": "subscribe", "topics": list(topics)}))
    return await receive(socket)


async def test_without_a_session_the_socket_closes_4401(running) -> None:
    client = running.app.test_client(use_cookies=False)
    async with client.websocket(LIVE_PATH) as socket:
        assert await closed_with(socket) == CLOSE_UNAUTHENTICATED
    async with client.websocket(LIVE_PATH, headers={"Authorization": "Bearer nope"}) as socket:
        assert await closed_with(socket) == CLOSE_UNAUTHENTICATED


async def cookie_browser(running, username: str):
    with running.hub.database.activate():
        user = await User.create(username=username, role="admin")
        issued = await running.hub.sessions.start(user, ip=None, user_agent=None)
    browser = running.app.test_client()
    browser.set_cookie("localhost", "medianest_access", issued.access_token)
    return browser, issued


async def test_a_session_cookie_from_another_origin_closes_4403(running) -> None:
    browser, _ = await cookie_browser(running, "cookie-origin")
    for headers in ({"Origin": "https://evil.example"}, {}):
        async with browser.websocket(LIVE_PATH, headers=headers) as socket:
            assert await closed_with(socket) == CLOSE_FORBIDDEN_ORIGIN
    async with browser.websocket(LIVE_PATH, headers={"Origin": "http://localhost"}) as socket:
        assert await subscribe(socket, "me") == {
            "type": "subscribed",
            "topics": ["me"],
            "ids": {"me": 0},
        }


async def test_sync_progress_reaches_a_subscriber_to_the_end(running) -> None:
    headers = await running.sign_in(permissions=[Permission.RUN_SYNCS])
    async with running.app.test_client().websocket(LIVE_PATH, headers=headers) as socket:
        assert await subscribe(socket, "sync") == {
            "type": "subscribed",
            "topics": ["sync"],
            "ids": {"sync": 0},
        }
        with running.hub.database.activate():
            run, _ = await running.hub.sync.claim_slot("fake", RunKind.FULL, Trigger.CLI)
            await running.hub.sync.execute(run.id)
        seen, ids = [], []
        while not seen or seen[-1]["status"] not in ("succeeded", "failed"):
            event = await receive(socket)
            assert event["type"] == "event" and event["topic"] == "sync"
            seen.append(event["data"]["run"])
            ids.append(event["id"])
    assert ids == list(range(1, len(ids) + 1))
    assert seen[0]["status"] == "running" and seen[-1]["status"] == "succeeded"
    assert all(view["id"] == run.id for view in seen)
    assert [view["items_seen"] for view in seen] == sorted(view["items_seen"] for view in seen)
    assert seen[-1]["items_seen"] == 300


async def test_topics_need_their_permission_and_unknown_ones_are_named(running) -> None:
    headers = await running.sign_in(permissions=[Permission.SEARCH])
    async with running.app.test_client().websocket(LIVE_PATH, headers=headers) as socket:
        await socket.send(json.dumps({"type": "subscribe", "topics": ["sync", "nope", "me"]}))
        forbidden, unknown, subscribed = [await receive(socket) for _ in range(3)]
        assert forbidden["code"] == "forbidden" and forbidden["permission"] == "run_syncs"
        assert unknown["code"] == "unknown_topic" and unknown["topic"] == "nope"
        assert "nope" in unknown["message"] and "sync" in unknown["message"]
        assert subscribed == {"type": "subscribed", "topics": ["me"], "ids": {"me": 0}}
        await running.hub.pubsub.publish("sync", {"run": {"id": 1}})
        await socket.send("not json")
        bad = await receive(socket)  # nothing of the sync topic came before it
        assert bad["type"] == "error" and bad["code"] == "bad_frame"
        await socket.send(json.dumps({"type": "subscribe", "topics": "me"}))
        assert (await receive(socket))["code"] == "bad_frame"


async def test_a_person_receives_only_their_own_topic(running) -> None:
    ann = await running.sign_in(username="ann")
    bob = await running.sign_in(username="bob")
    client = running.app.test_client()
    with running.hub.database.activate():
        ann_id = (await User.get(username="ann")).id
    async with (
        client.websocket(LIVE_PATH, headers=ann) as ann_socket,
        client.websocket(LIVE_PATH, headers=bob) as bob_socket,
    ):
        await subscribe(ann_socket, "me")
        await subscribe(bob_socket, "me")
        await publish_to_person(running.hub.pubsub, ann_id, {"hello": "ann"})
        assert await receive(ann_socket) == {
            "type": "event",
            "topic": "me",
            "id": 1,
            "data": {"hello": "ann"},
        }
        await bob_socket.send(json.dumps({"type": "unsubscribe", "topics": ["me"]}))
        assert await receive(bob_socket) == {"type": "unsubscribed", "topics": ["me"]}


async def test_a_person_hears_when_an_admin_changes_their_account(running) -> None:
    carol = await running.sign_in(username="carol")
    admin = await running.sign_in(role="admin")
    with running.hub.database.activate():
        carol_id = (await User.get(username="carol")).id
    async with running.app.test_client().websocket(LIVE_PATH, headers=carol) as socket:
        await subscribe(socket, "me")
        changed = await running.client.patch(
            f"/api/v1/users/{carol_id}", json={"permissions": ["search"]}, headers=admin
        )
        assert changed.status_code == 200, await changed.get_data(as_text=True)
        event = await receive(socket)
    assert event["topic"] == "me"
    assert event["data"] == {
        "type": "account.changed",
        "role": "user",
        "permissions": ["search"],
        "is_active": True,
    }


async def test_one_subscription_per_replica_whatever_the_number_of_sockets(running) -> None:
    headers = await running.sign_in(role="admin")
    broker = broker_of(running.app)
    client = running.app.test_client()
    async with (
        client.websocket(LIVE_PATH, headers=headers) as one,
        client.websocket(LIVE_PATH, headers=headers) as two,
    ):
        await subscribe(one, "sync", "health")
        await subscribe(two, "sync")
        assert broker.channels() == ["health", "sync"]
        await running.hub.pubsub.publish("sync", {"n": 1})
        assert (await receive(one))["data"] == {"n": 1}
        assert (await receive(two))["data"] == {"n": 1}
        await one.send(json.dumps({"type": "unsubscribe", "topics": ["sync", "health"]}))
        await receive(one)
        assert broker.channels() == ["sync"]
    for _ in range(50):
        if not broker.channels():
            break
        await asyncio.sleep(0.02)
    assert broker.channels() == []


async def test_a_follower_that_does_not_read_is_marked_too_slow(running) -> None:
    broker = LiveBroker(lambda: running.hub.pubsub, queue_size=5)
    client = broker.client()
    broker.start(await broker.attach("sync", client, "sync"))
    try:
        for number in range(20):
            await running.hub.pubsub.publish("sync", {"n": number})
        await asyncio.wait_for(client.too_slow.wait(), WAIT)
        assert client.queue.qsize() == 5
        assert json.loads(client.queue.get_nowait())["data"] == {"n": 0}
    finally:
        await broker.close()
    assert broker.channels() == []


@pytest.mark.parametrize("mode", ["embedded"], indirect=True)
async def test_a_client_that_does_not_read_is_dropped_4408(running) -> None:
    # In-process, a burst of messages reaches the socket's queue before it can send any.
    headers = await running.sign_in(role="admin")
    broker_of(running.app).queue_size = 5
    async with running.app.test_client().websocket(LIVE_PATH, headers=headers) as socket:
        await subscribe(socket, "sync")
        # the test client's socket is read by nobody while these arrive faster than it sends
        for number in range(200):
            await running.hub.pubsub.publish("sync", {"n": number})
        assert await closed_with(socket) == CLOSE_TOO_SLOW


async def test_a_socket_closes_4401_once_its_session_is_revoked(running) -> None:
    broker_of(running.app).recheck_seconds = 0.1
    browser, issued = await cookie_browser(running, "revoked-socket")
    async with browser.websocket(LIVE_PATH, headers={"Origin": "http://localhost"}) as socket:
        await subscribe(socket, "me")
        with running.hub.database.activate():
            await running.hub.sessions.revoke(issued.session.id, reason="signed_out")
        assert await closed_with(socket) == CLOSE_UNAUTHENTICATED


@pytest.fixture
async def replicas(medianest_hub, postgres_url, redis_url) -> AsyncIterator[tuple]:
    shared = {"database_url": postgres_url, "redis_url": redis_url, "secret_key": SECRET_KEY}
    async with (
        medianest_hub.run(**shared) as first,
        medianest_hub.run(**shared) as second,
    ):
        yield first, second


async def test_what_one_replica_publishes_reaches_sockets_on_the_other(replicas) -> None:
    first, second = replicas
    headers = await first.sign_in(role="admin")
    async with (
        first.app.test_client().websocket(LIVE_PATH, headers=headers) as on_first,
        second.app.test_client().websocket(LIVE_PATH, headers=headers) as on_second,
    ):
        await subscribe(on_first, "sync")
        await subscribe(on_second, "sync")
        await first.hub.pubsub.publish("sync", {"from": "first"})
        await second.hub.pubsub.publish("sync", {"from": "second"})
        for socket in (on_first, on_second):
            got = [(await receive(socket))["data"]["from"] for _ in range(2)]
            assert got == ["first", "second"]
