"""Sequence ids and replay on the live socket: a client coming back with the last id it saw
of each topic gets exactly what it missed, in order, then the live messages, without
duplicates or gaps at the seam; a gap frame when the history no longer holds it; a person's
history is their own; on any replica, and for what a worker publishes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from medianest.core.events import person_channel, publish_to_person
from medianest.core.web.live import LIVE_PATH, broker_of
from medianest.sdk import LiveTopic, PluginError, hookimpl
from medianest.sdk.access import Permission
from medianest.sdk.events import REQUESTS_CHANNEL
from tests.cli_helpers import medianest
from tests.services import SECRET_KEY

WAIT = 5.0


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator[Any]:
    async with medianest_hub.run(**mode) as hub:
        yield hub


async def receive(socket) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket.receive(), WAIT))


async def nothing_more(socket, within: float = 0.2) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(socket.receive(), within)


async def subscribe(socket, *topics: str, since: dict[str, int] | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "subscribe", "topics": list(topics)}
    if since is not None:
        frame["since"] = since
    await socket.send(json.dumps(frame))
    return await receive(socket)


async def user_id(running, headers: dict[str, str]) -> int:
    me = await running.client.get("/api/v1/me", headers=headers)
    return int((await me.get_json())["user"]["id"])


async def test_a_client_coming_back_gets_exactly_what_it_missed_then_live(running) -> None:
    headers = await running.sign_in(role="admin")
    client = running.app.test_client()
    pubsub = running.hub.pubsub
    await pubsub.publish("sync", {"n": 1})
    async with client.websocket(LIVE_PATH, headers=headers) as socket:
        subscribed = await subscribe(socket, "sync", "health")
        assert subscribed["ids"] == {"sync": 1, "health": 0}
        await pubsub.publish("sync", {"n": 2})
        first = await receive(socket)
        assert (first["id"], first["data"]) == (2, {"n": 2})
    for number in (3, 4, 5):  # while away
        await pubsub.publish("sync", {"n": number})
    await pubsub.publish("health", {"source": "x", "circuit": "open", "detail": ""})
    async with client.websocket(LIVE_PATH, headers=headers) as socket:
        subscribed = await subscribe(socket, "sync", "health", since={"sync": 2, "health": 0})
        assert subscribed == {
            "type": "subscribed",
            "topics": ["sync", "health"],
            "ids": {"sync": 5, "health": 1},
        }
        replayed = [await receive(socket) for _ in range(4)]
        assert [(f["topic"], f["id"]) for f in replayed] == [
            ("sync", 3),
            ("sync", 4),
            ("sync", 5),
            ("health", 1),
        ]
        assert [f["data"]["n"] for f in replayed[:3]] == [3, 4, 5]
        await pubsub.publish("sync", {"n": 6})
        live = await receive(socket)
        assert (live["type"], live["id"], live["data"]) == ("event", 6, {"n": 6})
        await nothing_more(socket)


async def test_no_duplicates_and_no_gaps_at_the_seam(running) -> None:
    """Messages published while the client subscribes come once each, in order."""
    headers = await running.sign_in(role="admin")
    pubsub = running.hub.pubsub
    for number in range(1, 51):
        await pubsub.publish("sync", {"n": number})

    async def publish_more() -> None:
        for number in range(51, 301):
            await pubsub.publish("sync", {"n": number})
            if number % 10 == 0:
                await asyncio.sleep(0)

    async with running.app.test_client().websocket(LIVE_PATH, headers=headers) as socket:
        publisher = asyncio.create_task(publish_more())
        await asyncio.sleep(0)
        await socket.send(
            json.dumps({"type": "subscribe", "topics": ["sync"], "since": {"sync": 20}})
        )
        ids: list[int] = []
        subscribed = None
        while not ids or ids[-1] < 300:
            frame = await receive(socket)
            if frame["type"] == "subscribed":
                subscribed = frame
                continue
            assert frame["type"] == "event", frame
            assert frame["data"] == {"n": frame["id"]}
            ids.append(frame["id"])
        await publisher
    assert subscribed is not None
    assert ids == list(range(21, 301))


async def test_a_gap_frame_when_the_history_no_longer_holds_what_was_missed(running) -> None:
    headers = await running.sign_in(role="admin")
    ann = await user_id(running, headers)
    running.hub.pubsub.history_size = 3
    for number in range(1, 9):
        await publish_to_person(running.hub.pubsub, ann, {"n": number})
    async with running.app.test_client().websocket(LIVE_PATH, headers=headers) as socket:
        subscribed = await subscribe(socket, "me", since={"me": 2})
        assert subscribed["ids"] == {"me": 8}
        assert await receive(socket) == {"type": "gap", "topic": "me", "id": 8}
        await publish_to_person(running.hub.pubsub, ann, {"n": 9})
        assert (await receive(socket))["id"] == 9
        # the history still holds what followed 5: no gap
        await socket.send(json.dumps({"type": "unsubscribe", "topics": ["me"]}))
        await receive(socket)
        await subscribe(socket, "me", since={"me": 6})
        assert [(await receive(socket))["id"] for _ in range(3)] == [7, 8, 9]
        # an id the topic never reached: its history was reset
        await socket.send(json.dumps({"type": "unsubscribe", "topics": ["me"]}))
        await receive(socket)
        await subscribe(socket, "me", since={"me": 1000})
        assert await receive(socket) == {"type": "gap", "topic": "me", "id": 9}


async def test_a_person_never_receives_another_persons_missed_messages(running) -> None:
    ann_headers = await running.sign_in(username="ann")
    bob_headers = await running.sign_in(username="bob")
    ann, bob = await user_id(running, ann_headers), await user_id(running, bob_headers)
    await publish_to_person(running.hub.pubsub, bob, {"for": "bob"})
    await publish_to_person(running.hub.pubsub, ann, {"for": "ann"})
    await publish_to_person(running.hub.pubsub, bob, {"for": "bob"})
    async with running.app.test_client().websocket(LIVE_PATH, headers=ann_headers) as socket:
        subscribed = await subscribe(socket, "me", since={"me": 0})
        assert subscribed["ids"] == {"me": 1}
        assert await receive(socket) == {
            "type": "event",
            "topic": "me",
            "id": 1,
            "data": {"for": "ann"},
        }
        await nothing_more(socket)


async def test_a_bad_since_is_refused_naming_what_is_wrong(running) -> None:
    headers = await running.sign_in(role="admin")
    async with running.app.test_client().websocket(LIVE_PATH, headers=headers) as socket:
        for since, named in (
            ([1], "since must be an object"),
            ({"health": 1}, "'health'"),
            ({"sync": -1}, "since['sync']"),
            ({"sync": "7"}, "since['sync']"),
            ({"sync": True}, "since['sync']"),
        ):
            await socket.send(json.dumps({"type": "subscribe", "topics": ["sync"], "since": since}))
            error = await receive(socket)
            assert error["type"] == "error" and error["code"] == "bad_frame", error
            assert named in error["message"]
        subscribed = await subscribe(socket, "sync", since={"sync": 0})
        assert subscribed["ids"] == {"sync": 0}


async def test_the_requests_topic_is_for_those_who_manage_requests(running) -> None:
    manager = await running.sign_in(permissions=[Permission.MANAGE_REQUESTS])
    member = await running.sign_in(permissions=[Permission.REQUEST])
    client = running.app.test_client()
    async with (
        client.websocket(LIVE_PATH, headers=manager) as managing,
        client.websocket(LIVE_PATH, headers=member) as requesting,
    ):
        assert (await subscribe(managing, "requests"))["topics"] == ["requests"]
        refused = await subscribe(requesting, "requests")
        assert refused["code"] == "forbidden" and refused["permission"] == "manage_requests"
        await running.hub.pubsub.publish(REQUESTS_CHANNEL, {"request": {"id": 7}})
        event = await receive(managing)
        assert (event["topic"], event["id"], event["data"]) == (
            "requests",
            1,
            {"request": {"id": 7}},
        )


@pytest.mark.parametrize("mode", ["scaled"], indirect=True)
async def test_messages_a_replica_missed_are_filled_in_from_the_history(running) -> None:
    """A message whose publication this replica never heard (its connection was cut) is
    read from the history when the next one shows the jump in ids."""
    headers = await running.sign_in(role="admin")
    redis = running.hub.state.redis
    assert redis is not None
    async with running.app.test_client().websocket(LIVE_PATH, headers=headers) as socket:
        await subscribe(socket, "sync")
        await running.hub.pubsub.publish("sync", {"n": 1})
        assert (await receive(socket))["id"] == 1
        # numbered and kept, but never published: as if the subscription was down
        prefix = "medianest:"
        number = await redis.incr(f"{prefix}pubsub-seq:sync")
        await redis.xadd(f"{prefix}pubsub-history:sync", {"m": '{"n":2}'}, id=f"{number}-0")
        await running.hub.pubsub.publish("sync", {"n": 3})
        got = [await receive(socket) for _ in range(2)]
        assert [(f["id"], f["data"]) for f in got] == [(2, {"n": 2}), (3, {"n": 3})]
        await nothing_more(socket)


@pytest.fixture
async def replicas(medianest_hub, postgres_url, redis_url) -> AsyncIterator[tuple]:
    shared = {
        "database_url": postgres_url,
        "redis_url": redis_url,
        "secret_key": SECRET_KEY,
        "features": {"hello": True},
    }
    async with (
        medianest_hub.run(autoload=True, **shared) as first,
        medianest_hub.run(autoload=True, **shared) as second,
    ):
        yield first, second


async def test_reconnecting_to_the_other_replica_gets_exactly_the_missed_messages(
    replicas,
) -> None:
    first, second = replicas
    headers = await first.sign_in(username="roamer")
    roamer = await user_id(first, headers)
    async with first.app.test_client().websocket(LIVE_PATH, headers=headers) as on_first:
        await subscribe(on_first, "me")
        await publish_to_person(second.hub.pubsub, roamer, {"n": 1})
        seen = await receive(on_first)
        assert (seen["id"], seen["data"]) == (1, {"n": 1})
    await first.app.shutdown()  # the replica stops (its sockets close 1001)
    for number in (2, 3, 4):
        await publish_to_person(second.hub.pubsub, roamer, {"n": number})
    async with second.app.test_client().websocket(LIVE_PATH, headers=headers) as on_second:
        subscribed = await subscribe(on_second, "me", since={"me": seen["id"]})
        assert subscribed["ids"] == {"me": 4}
        missed = [await receive(on_second) for _ in range(3)]
        assert [(f["id"], f["data"]["n"]) for f in missed] == [(2, 2), (3, 3), (4, 4)]
        await publish_to_person(second.hub.pubsub, roamer, {"n": 5})
        assert (await receive(on_second))["id"] == 5
        await nothing_more(on_second)
    assert (
        await second.hub.state.redis.xlen(f"medianest:pubsub-history:{person_channel(roamer)}") == 5
    )


@pytest.mark.slow  # runs a worker process
async def test_what_a_worker_publishes_reaches_a_socket_on_another_replica(
    replicas, postgres_url, redis_url, tmp_path
) -> None:
    first, second = replicas
    headers = await second.sign_in(permissions=[Permission.RUN_SYNCS])
    async with second.app.test_client().websocket(LIVE_PATH, headers=headers) as socket:
        assert (await subscribe(socket, "sync"))["ids"] == {"sync": 0}
        handle = await first.hub.request_sync("hello:main", full=True)
        assert handle.queued
        result = await asyncio.to_thread(
            medianest,
            tmp_path,
            "worker",
            "--burst",
            MEDIANEST_DATABASE_URL=postgres_url,
            MEDIANEST_REDIS_URL=redis_url,
            MEDIANEST_SECRET_KEY=SECRET_KEY,
            MEDIANEST_FEATURES__HELLO="true",
        )
        assert result.returncode == 0, result.stderr
        runs = []
        with contextlib.suppress(TimeoutError):
            while not runs or runs[-1]["data"]["run"]["status"] not in ("succeeded", "failed"):
                runs.append(await receive(socket))
    assert runs, "the worker's sync progress never arrived"
    assert [frame["id"] for frame in runs] == list(range(1, len(runs) + 1))
    assert runs[-1]["data"]["run"]["status"] == "succeeded"
    assert runs[-1]["data"]["run"]["source"] == "hello:main"


async def test_a_replay_too_big_for_the_socket_s_queue_becomes_a_gap(running, monkeypatch) -> None:
    monkeypatch.setattr("medianest.core.web.live.REPLAY_ROOM", 4)
    broker_of(running.app).queue_size = 5
    headers = await running.sign_in(role="admin")
    for number in range(1, 11):
        await running.hub.pubsub.publish("sync", {"n": number})
    async with running.app.test_client().websocket(LIVE_PATH, headers=headers) as socket:
        assert (await subscribe(socket, "sync", since={"sync": 0}))["ids"] == {"sync": 10}
        assert await receive(socket) == {"type": "gap", "topic": "sync", "id": 10}
        await running.hub.pubsub.publish("sync", {"n": 11})
        assert (await receive(socket))["id"] == 11
        await socket.send(json.dumps({"type": "unsubscribe", "topics": ["sync"]}))
        await receive(socket)
        await subscribe(socket, "sync", since={"sync": 3})  # 8 fit in 5 + 4
        assert [(await receive(socket))["id"] for _ in range(8)] == list(range(4, 12))


class TopicsPlugin:
    def __init__(self, *topics: LiveTopic) -> None:
        self.topics = list(topics)

    @hookimpl
    def register_live_topics(self) -> list[LiveTopic]:
        return self.topics


@pytest.mark.parametrize(
    ("topic", "named"),
    [
        (LiveTopic("other.news", "mine.news"), "topic names look like 'mine.<topic>'"),
        (LiveTopic("mine", "mine.news"), "topic names look like 'mine.<topic>'"),
        (LiveTopic("mine.news", "sync"), "that channel belongs to core"),
        (LiveTopic("mine.news", "person:1"), "channel names are lower-case"),
    ],
)
async def test_a_plugin_topic_declared_wrongly_stops_the_hub_naming_it(
    medianest_hub, topic: LiveTopic, named: str
) -> None:
    with pytest.raises(PluginError) as refused:
        async with medianest_hub.run({"mine": TopicsPlugin(topic)}):
            pass
    assert named in str(refused.value) and "mine" in str(refused.value)


async def test_a_plugin_topic_declared_twice_stops_the_hub(medianest_hub) -> None:
    twice = TopicsPlugin(LiveTopic("mine.news", "mine.news"), LiveTopic("mine.news", "mine.x"))
    with pytest.raises(PluginError, match=r"duplicate live topic 'mine\.news'"):
        async with medianest_hub.run({"mine": twice}):
            pass
