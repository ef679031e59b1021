"""The plugin's part of ``medianest demo``: Overseerr over the Plex demo's world, its
webhooks pointed at the hub once the demo wrote where the hub listens."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from medianest.sdk import Demo
from medianest_overseerr import plugin
from medianest_overseerr.client import OverseerrClient
from medianest_overseerr.demo import DEMO_WEBHOOK_SECRET, run_demo
from medianest_overseerr.health import verify_instance
from medianest_overseerr.settings import OverseerrSettings
from medianest_overseerr.simulator import Catalogue
from medianest_overseerr.source import OverseerrMediaSource
from medianest_plex.demo import DEMO_SEED, DEMO_SERVERS, ITEMS_ENV
from medianest_plex.simulator import PlexWorld


def test_the_plugin_registers_its_demo() -> None:
    demo = plugin.register_demo()
    assert isinstance(demo, Demo) and demo.start is run_demo


async def webhook_settings(client: OverseerrClient) -> dict[str, Any]:
    body, _ = await client.call_json("GET", "/settings/notifications/webhook")
    assert isinstance(body, dict)
    return body


async def test_the_demo_serves_overseerr_over_the_plex_demo_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ITEMS_ENV, "40")
    config_file = tmp_path / "medianest.toml"
    config_file.write_text("[server]\nport = 1\n")  # an earlier run's file
    async with run_demo(tmp_path) as setup:
        settings = OverseerrSettings.model_validate(setup.settings)
        (instance,) = settings.instances
        assert instance.webhook_secret is not None
        assert instance.webhook_secret.get_secret_value() == DEMO_WEBHOOK_SECRET
        text = "\n".join(setup.instructions)
        assert "Overseerr simulator" in text and "control API" in text

        plex_demo = Catalogue(PlexWorld(seed=DEMO_SEED, items=40, servers=DEMO_SERVERS))
        in_plex = next(t for t in plex_demo.in_plex() if t.media_type == "movie")
        source = OverseerrMediaSource(instance, OverseerrClient(instance))
        async with source.client as client:
            assert await verify_instance(client)
            item = await source.get_item(f"movie:{in_plex.tmdb}")
            assert item.title == in_plex.title and item.extra["requestable"] is False

            assert not (await webhook_settings(client))["enabled"]
            await asyncio.sleep(0.7)
            hook = await webhook_settings(client)
            assert not hook["enabled"], "an earlier run's settings file is not trusted"
            config_file.write_text('[server]\nhost = "0.0.0.0"\nport = 8099\n')
            for _ in range(40):
                hook = await webhook_settings(client)
                if hook["enabled"]:
                    break
                await asyncio.sleep(0.1)
        assert hook["enabled"] is True
        assert hook["options"]["webhookUrl"] == (
            "http://127.0.0.1:8099/api/v1/plugins/overseerr/webhook/home"
        )
        assert hook["options"]["authHeader"] == DEMO_WEBHOOK_SECRET
