"""Domain events leave the request path: buffered, batched to sinks, retried, dropped, counted."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import structlog

from medianest.config.settings import EventSettings
from medianest.core.events import EventBuffer
from medianest.sdk import DomainEvent, HubContext, InvalidInputError, hookimpl
from medianest.sdk.events import EVENTS_CHANNEL, FLAGS_CHANNEL, HEALTH_CHANNEL
from medianest.sdk.testing import HubHarness


def event(n: int) -> DomainEvent:
    return DomainEvent(type="test.happened", source="core", data={"n": n})


class Sink:
    """Keeps batches; fails its first ``failures`` calls; each call takes ``delay`` seconds."""

    def __init__(self, sink_id: str = "test:sink", *, failures: int = 0, delay: float = 0) -> None:
        self.id = sink_id
        self.name = "Test sink"
        self.failures = failures
        self.delay = delay
        self.batches: list[list[int]] = []
        self.calls = 0

    async def record(self, events: list[DomainEvent]) -> None:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("the sink is down")
        self.batches.append([e.data["n"] for e in events])


class Published:
    def __init__(self) -> None:
        self.messages: list[tuple[str, Any]] = []

    async def __call__(self, channel: str, message: Any) -> None:
        self.messages.append((channel, message))


def buffer(sinks: list[Sink], **settings: Any) -> tuple[EventBuffer, Published, list[Any]]:
    published = Published()
    drops: list[Any] = []
    config = EventSettings(**{"flush_seconds": 0.05, "retry_seconds": 0.01, **settings})
    made = EventBuffer(config, lambda: sinks, published, on_drop=lambda s, n: drops.append((s, n)))
    return made, published, drops


async def wait_for(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_full_batch_goes_out_at_once_in_order() -> None:
    sink = Sink()
    events, published, _ = buffer([sink], batch_size=3, flush_seconds=60)
    events.start()
    try:
        for n in range(7):
            events.put(event(n))
        await wait_for(lambda: len(sink.batches) == 2)
        assert sink.batches == [[0, 1, 2], [3, 4, 5]], "size-bound batches, in order"
        assert [m["data"]["n"] for c, m in published.messages] == [0, 1, 2, 3, 4, 5]
        assert {c for c, _ in published.messages} == {EVENTS_CHANNEL}
    finally:
        await events.close()
    assert sink.batches[-1] == [6], "closing delivers what was left"


async def test_a_partial_batch_waits_at_most_flush_seconds() -> None:
    sink = Sink()
    events, _, _ = buffer([sink], batch_size=100, flush_seconds=0.1)
    events.start()
    try:
        started = time.monotonic()
        events.put(event(1))
        await wait_for(lambda: sink.batches == [[1]])
        assert time.monotonic() - started < 1.0
    finally:
        await events.close()


async def test_a_failing_sink_is_retried_and_the_others_are_not_held_up() -> None:
    flaky, steady = Sink("test:flaky", failures=2), Sink("test:steady")
    events, _, drops = buffer([flaky, steady], sink_attempts=3)
    events.put(event(1))
    await events.flush()
    assert flaky.batches == [[1]] and flaky.calls == 3
    assert steady.batches == [[1]] and steady.calls == 1
    assert drops == [] and events.dropped == 0


async def test_a_sink_that_stays_down_loses_the_batch_counted_and_logged() -> None:
    down, steady = Sink("test:down", failures=99), Sink("test:steady")
    events, published, drops = buffer([down, steady], sink_attempts=2)
    with structlog.testing.capture_logs() as logs:
        for n in range(3):
            events.put(event(n))
        await events.flush()
    assert down.calls == 2 and down.batches == []
    assert steady.batches == [[0, 1, 2]]
    assert events.dropped == 3 and drops == [("test:down", 3)]
    [line] = [entry for entry in logs if entry["log_level"] == "error"]
    assert "test:down failed 2 times; batch dropped" in line["event"]
    assert line["events"] == 3 and line["dropped_total"] == 3
    assert "ConnectionError" in line["error"]
    assert len(published.messages) == 3, "subscribers still get the events"


async def test_a_hanging_sink_times_out() -> None:
    slow = Sink("test:slow", delay=5)
    events, _, drops = buffer([slow], sink_attempts=1, sink_timeout_seconds=0.05)
    events.put(event(1))
    started = time.monotonic()
    await events.flush()
    assert time.monotonic() - started < 2
    assert drops == [("test:slow", 1)]


async def test_beyond_max_buffered_the_oldest_events_are_dropped() -> None:
    sink = Sink()
    events, _, drops = buffer([sink], max_buffered=3, batch_size=10)
    for n in range(5):
        events.put(event(n))
    assert len(events) == 3 and events.dropped == 2
    assert drops == [("buffer", 1), ("buffer", 1)]
    await events.flush()
    assert sink.batches == [[2, 3, 4]]


class SlowSinkPlugin:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    @hookimpl
    def register_analytics_sinks(self) -> list[Sink]:
        return [self.sink]


async def test_emit_returns_at_once_and_events_reach_sinks_and_subscribers(
    medianest_hub: HubHarness, mode: dict
) -> None:
    sink = Sink("slow", delay=0.5)
    async with medianest_hub.run({"slow": SlowSinkPlugin(sink)}, **mode) as running:
        hub = running.hub
        async with hub.pubsub.subscribe(EVENTS_CHANNEL) as messages:
            started = time.perf_counter()
            for n in range(3):
                await hub.emit(event(n))
            assert time.perf_counter() - started < 0.1, "emit must not wait for the sink"
            received = []
            async with asyncio.timeout(10):
                async for message in messages:
                    if message.get("type") == "test.happened":
                        received.append(message["data"]["n"])
                    if len(received) == 3:
                        break
        assert received == [0, 1, 2]
        assert sink.batches == [[0, 1, 2]]
        await hub.emit(event(3))
    assert sink.batches[-1] == [3], "stopping the hub delivers what was buffered"


async def test_plugins_publish_on_their_own_channels_only(
    medianest_hub: HubHarness, mode: dict
) -> None:
    async with medianest_hub.run(**mode) as running:
        hub = running.hub
        assert isinstance(hub, HubContext), "the hub is what plugins are promised"
        async with hub.pubsub.subscribe("mine.news") as messages:
            await hub.publish("mine.news", {"hello": 1})
            async with asyncio.timeout(10):
                assert await anext(aiter(messages)) == {"hello": 1}
        for refused in (FLAGS_CHANNEL, EVENTS_CHANNEL, HEALTH_CHANNEL, "Not A Channel"):
            with pytest.raises(InvalidInputError):
                await hub.publish(refused, {})


def test_event_settings_are_bounded() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        EventSettings(batch_size=0)


async def test_a_pub_sub_outage_is_logged_as_such_and_the_sinks_keep_their_events() -> None:
    sink = Sink()

    async def redis_down(channel: str, message: Any) -> None:
        raise ConnectionError("Redis is restarting")

    events = EventBuffer(EventSettings(flush_seconds=0.05, retry_seconds=0.01), lambda: [sink],
                         redis_down)  # fmt: skip
    events.start()
    try:
        with structlog.testing.capture_logs() as logs:
            events.put(event(1))
            await wait_for(lambda: events.delivered == 1)
    finally:
        await events.close()
    assert sink.batches == [[1]]
    assert [(e["event"], e.get("event_type")) for e in logs if e["log_level"] != "debug"] == [
        ("event not published", event(1).type)
    ]
