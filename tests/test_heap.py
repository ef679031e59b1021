"""Core freezes the startup heap once per process, when a hub has started."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

from medianest.sdk.testing import HubHarness


def test_the_heap_is_frozen_once_per_process() -> None:
    script = textwrap.dedent(
        """
        import gc
        from medianest.core.heap import freeze_startup_heap
        assert gc.get_freeze_count() == 0
        assert freeze_startup_heap() is True
        frozen = gc.get_freeze_count()
        assert frozen > 1000, frozen
        assert freeze_startup_heap() is False
        assert gc.get_freeze_count() == frozen
        assert gc.isenabled()
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


async def test_a_started_hub_has_frozen_the_heap(medianest_hub: HubHarness) -> None:
    async with medianest_hub.run():
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()
