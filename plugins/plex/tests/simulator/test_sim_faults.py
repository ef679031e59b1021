"""Fault injection: latency, errors, 429, hangs and malformed bodies, deterministically."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from lxml import etree

from medianest_plex.simulator import FaultMode, RunningSimulator

SECTIONS = "/library/sections"


async def test_error_on_the_next_two_requests_only(
    pms: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    rule = await control.post("/faults", json={"mode": "error", "path": "/library/*", "times": 2})
    assert rule.status_code == 201
    statuses = [(await pms.get(SECTIONS)).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert (await pms.get("/identity")).status_code == 200


async def test_error_status_is_configurable_and_plextv_gets_json(
    sim: RunningSimulator, plextv: httpx.AsyncClient
) -> None:
    sim.world.faults.add(FaultMode.ERROR, path="/api/v2/pins", status=503, times=1)
    response = await plextv.post("/pins")
    assert response.status_code == 503
    assert response.json()["errors"][0]["status"] == 503
    assert (await plextv.post("/pins")).status_code == 201


async def test_rate_limit_answers_429_with_retry_after(
    pms: httpx.AsyncClient, sim: RunningSimulator
) -> None:
    sim.world.faults.add("rate_limit", path="all", retry_after=7, times=1)
    limited = await pms.get(SECTIONS)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert (await pms.get(SECTIONS)).status_code == 200


async def test_latency_delays_matching_requests(
    pms: httpx.AsyncClient, sim: RunningSimulator
) -> None:
    sim.world.faults.add("latency", path=SECTIONS, latency_ms=150, times=1)
    started = time.perf_counter()
    assert (await pms.get(SECTIONS)).status_code == 200
    assert time.perf_counter() - started >= 0.14


async def test_hang_holds_until_cleared(pms: httpx.AsyncClient, control: httpx.AsyncClient) -> None:
    await control.post("/faults", json={"mode": "hang", "path": SECTIONS})
    pending = asyncio.create_task(pms.get(SECTIONS))
    await asyncio.sleep(0.3)
    assert not pending.done()
    assert (await control.get("/faults")).json()[0]["fired"] == 1
    await control.delete("/faults")
    response = await asyncio.wait_for(pending, 5)
    assert response.status_code == 200


async def test_hang_times_out_on_the_client(pms: httpx.AsyncClient, sim: RunningSimulator) -> None:
    sim.world.faults.add("hang", path="all", times=1)
    with pytest.raises(httpx.ReadTimeout):
        await pms.get(SECTIONS, timeout=0.3)
    sim.world.faults.clear()
    assert (await pms.get(SECTIONS)).status_code == 200


async def test_hang_with_a_limit_answers_afterwards(
    pms: httpx.AsyncClient, sim: RunningSimulator
) -> None:
    sim.world.faults.add("hang", path=SECTIONS, hang_seconds=0.2, times=1)
    started = time.perf_counter()
    assert (await pms.get(SECTIONS)).status_code == 200
    assert time.perf_counter() - started >= 0.18


async def test_malformed_json_and_xml(pms: httpx.AsyncClient, sim: RunningSimulator) -> None:
    sim.world.faults.add("malformed", path=SECTIONS, times=2)
    broken_json = await pms.get(SECTIONS)
    assert broken_json.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken_json.content)
    broken_xml = await pms.get(SECTIONS, headers={"Accept": "application/xml"})
    assert broken_xml.status_code == 200
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(broken_xml.content)
    assert (await pms.get(SECTIONS)).json()["MediaContainer"]["size"] == 2


async def test_error_rate_is_reproducible(sim: RunningSimulator, pms: httpx.AsyncClient) -> None:
    async def run() -> list[int]:
        sim.world.faults.clear()
        sim.world.faults.add("error", path=SECTIONS, rate=0.5, seed=42)
        return [(await pms.get(SECTIONS)).status_code for _ in range(12)]

    first, second = await run(), await run()
    assert first == second
    assert 500 in first and 200 in first


async def test_method_filter_and_removal_of_one_rule(
    pms: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    rule = (await control.post("/faults", json={"mode": "error", "method": "POST"})).json()
    assert (await pms.get(SECTIONS)).status_code == 200
    assert (await control.delete(f"/faults/{rule['id']}")).status_code == 200
    assert (await control.delete(f"/faults/{rule['id']}")).status_code == 404


async def test_control_api_is_never_faulted(control: httpx.AsyncClient) -> None:
    await control.post("/faults", json={"mode": "error", "path": "all"})
    assert (await control.get("/world")).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "explode"},
        {"mode": "latency"},
        {"mode": "error", "rate": 2},
        {"mode": "error", "times": 0},
        {"mode": "error", "status": 200},
        {"mode": "error", "x": 1},
        {"mode": "hang", "hang_seconds": "long"},
    ],
)
async def test_bad_fault_descriptions_are_400(control: httpx.AsyncClient, body: dict) -> None:
    response = await control.post("/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"]
