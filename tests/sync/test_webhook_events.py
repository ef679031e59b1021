"""The Plex webhook answers at once: its playback events go through core's event buffer."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from medianest.sdk import DomainEvent, hookimpl
from medianest.sdk.testing import HubHarness
from medianest_plex import plugin
from medianest_plex.simulator import RunningSimulator
from tests.sync.conftest import plex_section

SECRET = "events-webhook-secret-0123456789"


class SlowSink:
    """An analytics sink that takes two seconds per batch."""

    id = "slowsink"
    name = "Slow sink"

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def record(self, events: list[DomainEvent]) -> None:
        await asyncio.sleep(2)
        self.events.extend(events)


class SlowSinkPlugin:
    def __init__(self) -> None:
        self.sink = SlowSink()

    @hookimpl
    def register_analytics_sinks(self) -> list[SlowSink]:
        return [self.sink]


async def test_playback_webhooks_do_not_wait_for_analytics_sinks(
    medianest_hub: HubHarness, plex_sim: RunningSimulator, mode: dict
) -> None:
    sinks = SlowSinkPlugin()
    async with medianest_hub.run(
        {"plex": plugin, "slowsink": sinks},
        plugins={"plex": plex_section(plex_sim, webhook_secret=SECRET)},
        **mode,
    ) as running:
        uuid = await running.hub.provider("plex:home").machine_identifier()
        body = json.dumps(
            {"event": "media.play", "Server": {"uuid": uuid}, "Metadata": {"ratingKey": "7"}}
        )
        multipart = httpx.Request("POST", "http://hub/", files={"payload": (None, body.encode())})
        started = time.perf_counter()
        response = await running.client.post(
            f"/api/v1/plugins/plex/webhook/{SECRET}",
            data=multipart.read(),
            headers={"Content-Type": multipart.headers["content-type"]},
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 202
        assert elapsed < 1.0, f"the webhook waited {elapsed:.2f} s for a 2 s sink"
        assert sinks.sink.events == []
    assert [(e.type, e.item.item_id if e.item else None) for e in sinks.sink.events] == [
        ("media.play", "7")
    ], "the event reached the sink after the answer (at the latest when the hub stopped)"
