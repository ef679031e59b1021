"""The Overseerr part of ``medianest demo``: a simulated Overseerr over the Plex demo's world.

The Plex demo generates its world from a fixed seed (:mod:`medianest_plex.demo`); this demo
builds the same world, so Overseerr knows exactly the titles the demo's Plex servers hold
(as *available*) plus titles that can only be requested, with the same TMDB/IMDb/TVDB ids.
Overseerr's users are the Plex owner (its admin), the Plex friend ``friend1`` and two local
users; ``create_missing_users`` is on, so anyone else who signs in gets an Overseerr user
the first time they request something.

Overseerr's webhook agent is switched on with the hub's secret. The hub's address is known
only once it listens: the demo writes it to ``<data-dir>/medianest.toml``, and this demo
points the webhook there as soon as that file is (re)written.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from medianest.sdk import DemoSetup
from medianest_overseerr.const import PLUGIN_KEY
from medianest_overseerr.simulator import OverseerrWorld, RunningOverseerr, serve_simulator
from medianest_overseerr.simulator.webhooks import Notification
from medianest_plex.demo import DEMO_SEED, DEMO_SERVERS, demo_items
from medianest_plex.simulator import PlexWorld

INSTANCE = "home"
DEMO_API_KEY = "medianest-demo-overseerr-api-key"
DEMO_WEBHOOK_SECRET = "medianest-demo-overseerr-webhook"  # noqa: S105 - the demo's own
CONFIG_FILE_NAME = "medianest.toml"
REQUEST_NOTIFICATIONS = (
    Notification.MEDIA_PENDING
    | Notification.MEDIA_APPROVED
    | Notification.MEDIA_AUTO_APPROVED
    | Notification.MEDIA_AVAILABLE
    | Notification.MEDIA_DECLINED
    | Notification.MEDIA_FAILED
)


@asynccontextmanager
async def run_demo(data_dir: Path) -> AsyncIterator[DemoSetup]:
    """Serve the simulated Overseerr on loopback for as long as the block lasts.

    :raises ConfigurationError: ``MEDIANEST_DEMO_PLEX_ITEMS`` is not valid.
    """
    plex = PlexWorld(seed=DEMO_SEED, items=demo_items(), servers=DEMO_SERVERS)
    world = OverseerrWorld(plex, api_key=DEMO_API_KEY)
    async with serve_simulator(world) as sim:
        watcher = asyncio.create_task(
            point_webhook_at_hub(world, data_dir / CONFIG_FILE_NAME), name="overseerr-demo-hook"
        )
        try:
            yield DemoSetup(settings=demo_settings(sim), instructions=instructions(sim))
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def demo_settings(sim: RunningOverseerr) -> dict[str, Any]:
    """The ``[plugins.overseerr]`` section for the served simulator."""
    return {
        "instances": [
            {
                "name": INSTANCE,
                "url": sim.url,
                "api_key": sim.api_key,
                "webhook_secret": DEMO_WEBHOOK_SECRET,
                "create_missing_users": True,
            }
        ]
    }


def webhook_url(config_file: Path) -> str | None:
    """The hub's webhook URL for the instance, from the settings file the demo wrote."""
    try:
        document = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    server = document.get("server")
    if not isinstance(server, dict) or not isinstance(server.get("port"), int):
        return None
    host = str(server.get("host") or "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - listening everywhere: call loopback
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{server['port']}/api/v1/plugins/{PLUGIN_KEY}/webhook/{INSTANCE}"


async def point_webhook_at_hub(
    world: OverseerrWorld, config_file: Path, *, interval: float = 0.5
) -> None:
    """Switch Overseerr's webhook agent on towards the hub once the demo wrote its address
    (a settings file from an earlier run is not trusted: only one written after now)."""
    started = _mtime(config_file)
    while True:
        written = _mtime(config_file)
        if written is not None and written != started:
            url = webhook_url(config_file)
            if url is not None:
                world.webhook.update(
                    {
                        "enabled": True,
                        "types": int(REQUEST_NOTIFICATIONS),
                        "options": {"webhookUrl": url, "authHeader": DEMO_WEBHOOK_SECRET},
                    }
                )
                return
        await asyncio.sleep(interval)


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def instructions(sim: RunningOverseerr) -> list[str]:
    """What to tell the person running the demo about Overseerr."""
    world = sim.world
    requestable = sum(1 for _ in world.catalogue.requestable_only())
    return [
        "",
        f"Overseerr simulator: {sim.url} (API key {sim.api_key}), {requestable} titles only "
        "requestable, the Plex servers' titles as available; its webhooks reach the hub.",
        f"Overseerr control API (approve, decline, make available, faults): {sim.control_url}",
        "Requests are made in Overseerr as the person who signs in (the owner is its admin;",
        "anyone without an Overseerr user gets one the first time they request).",
    ]
