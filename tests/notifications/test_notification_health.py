"""Sources down and back: admins hear of a source whose circuit stayed open for the set
time, and again when it is back; a short blip tells nobody. Both runtime modes."""

from __future__ import annotations

import asyncio

from medianest.core.db.models import Notification
from medianest.sdk.events import HEALTH_CHANNEL
from tests.notifications.conftest import eventually, person

DOWN_SOON = {"source_down_minutes": 0.01}  # 0.6 s


async def titles(user_id: int) -> list[str]:
    return [n.title for n in await Notification.filter(user_id=user_id).order_by("id")]


async def circuit(hub, state: str) -> None:
    await hub.pubsub.publish(
        HEALTH_CHANNEL, {"source": "plex:home", "circuit": state, "detail": "no answer"}
    )


async def test_a_source_down_for_a_while_and_back_tells_the_admins(start_hub) -> None:
    async with start_hub(notifications=DOWN_SOON) as running:
        hub = running.hub
        root = await person("root", role="admin", hub=hub)
        ann = await person("ann", hub=hub)
        await asyncio.sleep(0.3)  # the watch is listening
        await circuit(hub, "open")
        await circuit(hub, "open")  # another replica saw it too

        async def told(count: int) -> bool:
            await hub.events.flush()
            return len(await titles(root.id)) >= count

        await eventually(lambda: told(1))
        await circuit(hub, "closed")
        await eventually(lambda: told(2))
        await asyncio.sleep(0.3)
        assert await titles(root.id) == [
            "plex:home has been down for 1 min",
            "plex:home is back after 1 min",
        ]
        [down, _] = await Notification.filter(user_id=root.id).order_by("id")
        assert down.body == "no answer"
        assert await titles(ann.id) == []


async def test_a_short_blip_tells_nobody(start_hub) -> None:
    async with start_hub(notifications={"source_down_minutes": 0.02}) as running:
        hub = running.hub
        root = await person("root", role="admin", hub=hub)
        await asyncio.sleep(0.3)
        await circuit(hub, "open")
        await asyncio.sleep(0.2)
        await circuit(hub, "closed")
        await asyncio.sleep(1.6)
        await hub.events.flush()
        assert await titles(root.id) == []
