"""The Plex part of ``medianest demo``: a simulated plex.tv and two Plex Media Servers.

The world is generated from a fixed seed, so every demo has the same accounts and libraries;
``MEDIANEST_DEMO_PLEX_ITEMS`` sets how many items (movies + episodes) each server holds.
The hub is configured with both servers, read with the owner's token, and signs people in
through the simulator's approval page, which stands in for app.plex.tv.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from medianest.sdk import ConfigurationError, DemoSetup
from medianest_plex.const import PLUGIN_KEY
from medianest_plex.simulator import PlexWorld, RunningSimulator, serve_world

ITEMS_ENV = "MEDIANEST_DEMO_PLEX_ITEMS"
DEFAULT_ITEMS = 2000
MAX_ITEMS = 200_000
DEMO_SEED = 7
DEMO_SERVERS = 2


def demo_items(environ: Mapping[str, str] | None = None) -> int:
    """Items per simulated server: ``$MEDIANEST_DEMO_PLEX_ITEMS`` or 2000.

    :raises ConfigurationError: the variable is not a whole number from 0 to 200000.
    """
    raw = (os.environ if environ is None else environ).get(ITEMS_ENV, "").strip()
    if not raw:
        return DEFAULT_ITEMS
    if not raw.isdigit() or int(raw) > MAX_ITEMS:
        raise ConfigurationError(
            f"{ITEMS_ENV} must be a whole number from 0 to {MAX_ITEMS} (got {raw[:20]!r})",
            plugin=PLUGIN_KEY,
        )
    return int(raw)


@asynccontextmanager
async def run_demo(data_dir: Path) -> AsyncIterator[DemoSetup]:
    """Serve the demo world on loopback for as long as the block lasts.

    ``data_dir`` is not used: the world lives in memory and is the same on every start.

    :raises ConfigurationError: ``MEDIANEST_DEMO_PLEX_ITEMS`` is not valid.
    """
    world = PlexWorld(seed=DEMO_SEED, items=demo_items(), servers=DEMO_SERVERS)
    async with serve_world(world) as sim:
        yield DemoSetup(settings=demo_settings(sim), instructions=instructions(sim))


def demo_settings(sim: RunningSimulator) -> dict[str, Any]:
    """The ``[plugins.plex]`` section for the served world: every server, the owner's token."""
    return {
        "servers": [
            {"name": slug, "url": url, "token": sim.world.owner.token}
            for slug, url in sim.server_urls.items()
        ],
        "plextv_url": sim.plextv_url,
        "auth_app_url": sim.auth_url,
    }


def instructions(sim: RunningSimulator) -> list[str]:
    """What to tell the person running the demo: where Plex is and how to sign in."""
    world = sim.world
    servers = ", ".join(f"{slug} ({url})" for slug, url in sim.server_urls.items())
    return [
        "",
        f"Plex simulator: plex.tv at {sim.plextv_url}, servers {servers}, "
        f"{world.items_per_server} items each (set {ITEMS_ENV} for more or fewer).",
        f"Simulator control API: {sim.control_url}",
        "",
        "To sign in: open the sign-in page above, click 'Sign in with Plex', then pick an "
        "account on the simulated Plex page:",
        "  (owner)             -> signed in as an admin: owns both servers",
        "  (friend), (managed) -> signed in as a user: can reach a server",
        "  (stranger)          -> refused: the account has no access to these servers",
    ]
