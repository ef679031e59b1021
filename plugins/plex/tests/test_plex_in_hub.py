"""The plugin loaded into a real hub (the SDK test kit), talking to the simulator."""

from __future__ import annotations

import json

import httpx

from medianest.sdk.testing import HubHarness
from medianest_plex import plugin
from medianest_plex.auth import PlexAuthProvider
from medianest_plex.simulator import RunningSimulator
from medianest_plex.source import PlexMediaSource

SECRET = "in-hub-secret-0123456789"


async def test_the_hub_registers_sources_sign_in_and_webhooks(
    medianest_hub: HubHarness, plex_sim: RunningSimulator
) -> None:
    world = plex_sim.world
    section = {
        "servers": [
            {"name": slug, "url": url, "token": world.owner.token}
            for slug, url in plex_sim.server_urls.items()
        ],
        "plextv_url": plex_sim.plextv_url,
        "auth_app_url": plex_sim.auth_url,
        "webhook_secret": SECRET,
    }
    async with medianest_hub.run({"plex": plugin}, plugins={"plex": section}) as running:
        home = running.hub.provider("plex:home")
        assert isinstance(home, PlexMediaSource)
        assert isinstance(running.hub.provider("plex:cabin"), PlexMediaSource)
        assert isinstance(running.hub.provider("plex"), PlexAuthProvider)
        assert await home.count() > 0

        uuid = await home.machine_identifier()
        body = json.dumps({"event": "library.new", "Server": {"uuid": uuid}})
        multipart = httpx.Request("POST", "http://hub/", files={"payload": (None, body.encode())})
        response = await running.client.post(
            f"/api/v1/plugins/plex/webhook/{SECRET}",
            data=multipart.read(),
            headers={"Content-Type": multipart.headers["content-type"]},
        )
        assert response.status_code == 202
        assert (await response.get_json())["source"] == "plex:home"
