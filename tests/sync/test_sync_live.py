"""Scaled mode for real: a sync asked for over the API runs on an ARQ worker process, and its
progress reaches a page's live socket on the API replica through Redis, to the end."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from medianest.core.web.live import LIVE_PATH
from medianest.sdk.testing import HubHarness
from medianest_plex import plugin
from medianest_plex.simulator import PlexWorld, serve_world
from tests.services import SECRET_KEY
from tests.sync.conftest import plex_section
from tests.sync.test_sync_scaled import SYNC, start_worker, write_config


async def test_progress_from_a_worker_process_reaches_a_socket_on_the_api(
    medianest_hub: HubHarness, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    world = PlexWorld(seed=3, items=300, servers=1)
    async with serve_world(world) as sim:
        write_config(tmp_path, sim)
        settings = {"database_url": postgres_url, "redis_url": redis_url, "secret_key": SECRET_KEY}
        async with medianest_hub.run(
            {"plex": plugin}, plugins={"plex": plex_section(sim)}, sync=SYNC, **settings
        ) as running:
            admin = await running.sign_in(role="admin")
            worker = start_worker(tmp_path, postgres_url, redis_url)
            try:
                async with running.app.test_client().websocket(LIVE_PATH, headers=admin) as socket:
                    await socket.send(json.dumps({"type": "subscribe", "topics": ["sync"]}))
                    assert json.loads(await socket.receive())["type"] == "subscribed"
                    asked = await running.client.post(
                        "/api/v1/sync/plex:home", json={"full": True}, headers=admin
                    )
                    assert asked.status_code == 202, await asked.get_data(as_text=True)
                    run_id = (await asked.get_json())["id"]
                    seen = []
                    while not seen or seen[-1]["status"] not in ("succeeded", "failed"):
                        frame = json.loads(await asyncio.wait_for(socket.receive(), 60))
                        assert frame["type"] == "event" and frame["topic"] == "sync", frame
                        seen.append(frame["data"]["run"])
            finally:
                worker.send_signal(signal.SIGTERM)
                _, errors = worker.communicate(timeout=20)
    assert {view["id"] for view in seen} == {run_id}
    assert seen[0]["status"] == "running" and seen[-1]["status"] == "succeeded", errors
    assert len(seen) >= 3  # started, at least one batch, the end
    counts = [view["items_seen"] for view in seen]
    assert counts == sorted(counts) and counts[-1] == seen[-1]["total"] > 0
