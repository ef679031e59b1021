"""Test before save: at boot and in ``medianest config check``, each instance must answer
and take its key; messages name the instance, never the key."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from overseerr_testkit import instance_for

from medianest.sdk.testing import HubHarness
from medianest_overseerr import plugin
from medianest_overseerr.simulator import RunningOverseerr
from tests.cli_helpers import MEDIANEST, clean_environment

WRONG_KEY = "not-the-key-of-this-overseerr"


def section(sim: RunningOverseerr, key: str) -> dict[str, object]:
    return {"instances": [{"name": "home", "url": sim.url, "api_key": key}]}


async def test_a_refused_key_stops_the_boot_naming_the_instance(
    medianest_hub: HubHarness, overseerr_sim: RunningOverseerr
) -> None:
    plugins = {"overseerr": section(overseerr_sim, WRONG_KEY)}
    with pytest.raises(Exception) as caught:  # the test app wraps core's error
        async with medianest_hub.run({"overseerr": plugin}, plugins=plugins):
            pass
    assert "failed in startup: ConfigurationError" in str(caught.value)
    assert "Overseerr 'home' refused the API key" in str(caught.value)
    assert WRONG_KEY not in str(caught.value)


async def test_an_instance_that_does_not_answer_is_logged_and_the_hub_starts(
    medianest_hub: HubHarness, overseerr_sim: RunningOverseerr, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    overseerr_sim.control.down()
    plugins = {"overseerr": section(overseerr_sim, overseerr_sim.api_key)}
    async with medianest_hub.run({"overseerr": plugin}, plugins=plugins) as running:
        assert running.hub.registry.get("request_backends", "overseerr:home")
    logged = [r.getMessage() for r in caplog.records if "Overseerr 'home'" in r.getMessage()]
    assert any("HTTP 503" in line and "fail until it answers" in line for line in logged)


async def config_check(tmp_path: Path, sim: RunningOverseerr, key: str) -> tuple[int, str]:
    """``medianest config check`` in a subprocess while the simulator keeps serving."""
    instance = instance_for(sim)
    instances = [{"name": "home", "url": instance.url, "api_key": key}]
    env = clean_environment(tmp_path, MEDIANEST_PLUGINS__OVERSEERR__INSTANCES=json.dumps(instances))
    process = await asyncio.create_subprocess_exec(
        *MEDIANEST,
        "config",
        "check",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


@pytest.mark.slow
async def test_config_check_tests_each_instance(
    tmp_path: Path, overseerr_sim: RunningOverseerr
) -> None:
    code, output = await config_check(tmp_path, overseerr_sim, overseerr_sim.api_key)
    assert code == 0, output
    assert "overseerr:home: ok" in output
    code, output = await config_check(tmp_path, overseerr_sim, WRONG_KEY)
    assert code == 2, output
    assert "overseerr:home: failing: Overseerr 'home' refused the API key" in output
    assert WRONG_KEY not in output
