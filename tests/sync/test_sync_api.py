"""The library sync API: starting runs (or joining the one going), listing and reading runs,
and the sources with their schedules, against simulated Plex servers in both runtime modes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from medianest.core.db.models import AuditEvent, SyncRun
from medianest.sdk.testing import HubHarness, RunningHub
from medianest_plex import plugin
from medianest_plex.simulator import RunningSimulator
from tests.sync.conftest import SYNC_SETTINGS, plex_section
from tests.sync.fake_source import FakeLibrary, FakePlugin

SYNC = "/api/v1/sync"
PROBLEM = "application/problem+json"


def patient_section(sim: RunningSimulator) -> dict[str, Any]:
    """The Plex settings of the simulated servers, waiting out a request held for a moment."""
    section = plex_section(sim)
    section["servers"] = [server | {"timeout": 10.0} for server in section["servers"]]
    return section


@pytest.fixture
async def api_hub(
    medianest_hub: HubHarness, plex_sim: RunningSimulator, mode: dict
) -> AsyncIterator[RunningHub]:
    """Both simulated servers, and ``fake``: a source that cannot list its changes."""
    plugins = {"plex": plugin, "fake": FakePlugin(FakeLibrary("fake", 30, changes=False))}
    async with medianest_hub.run(
        plugins, plugins={"plex": patient_section(plex_sim)}, sync=SYNC_SETTINGS, **mode
    ) as running:
        with running.hub.database.activate():
            yield running


async def finish(running: RunningHub, run_id: int) -> SyncRun:
    """Let run ``run_id`` end: embedded, the hub's job runner runs it; scaled, this test
    does what a worker would."""
    if running.hub.mode == "embedded":
        await running.hub.jobs.join()
    else:
        await running.hub.sync.execute(run_id)
    return await SyncRun.get(id=run_id)


async def start(running: RunningHub, headers: dict, source: str, body: Any = None) -> Any:
    """POST a sync request (no body when ``body`` is None); the response."""
    kwargs = {} if body is None else {"json": body}
    return await running.client.post(f"{SYNC}/{source}", headers=headers, **kwargs)


async def test_a_sync_request_queues_a_run_and_says_where_to_follow_it(api_hub) -> None:
    admin = await api_hub.sign_in(role="admin", username="ops")

    response = await start(api_hub, admin, "plex:home", {"full": True})

    assert response.status_code == 202
    body = await response.get_json()
    assert body["joined"] is False
    assert body["source"] == "plex:home"
    assert (body["kind"], body["trigger"], body["requested_by"]) == ("full", "api", "ops")
    assert body["status"] in ("queued", "running")
    assert response.headers["Location"] == f"{SYNC}/runs/{body['id']}"

    ended = await finish(api_hub, body["id"])
    followed = await api_hub.client.get(response.headers["Location"], headers=admin)
    assert followed.status_code == 200
    run = await followed.get_json()
    assert run["id"] == ended.id
    assert run["status"] == "succeeded" and run["error"] is None
    assert run["items_seen"] == run["inserted"] == run["total"] > 0
    assert run["pages"] > 1 and run["finished_at"] is not None

    [event] = await AuditEvent.filter(action="sync.requested")
    assert (event.actor, event.target) == ("ops", "source:plex:home")
    assert event.details == {"run_id": body["id"], "kind": "full", "joined": False}


async def test_without_a_body_the_sync_is_incremental(api_hub) -> None:
    admin = await api_hub.sign_in(role="admin")

    response = await start(api_hub, admin, "plex:cabin")

    assert response.status_code == 202
    body = await response.get_json()
    assert body["kind"] == "incremental"
    assert (await finish(api_hub, body["id"])).status == "succeeded"


async def test_a_request_while_a_run_is_going_joins_it(api_hub, plex_sim) -> None:
    admin = await api_hub.sign_in(role="admin")
    plex_sim.world.faults.add("hang")  # the run stays active until the fault is cleared
    first = await (await start(api_hub, admin, "plex:home", {"full": True})).get_json()

    same = await start(api_hub, admin, "plex:home", {"full": True})
    covered = await start(api_hub, admin, "plex:home", {"full": False})

    for response in (same, covered):
        assert response.status_code == 202
        body = await response.get_json()
        assert (body["id"], body["kind"], body["joined"]) == (first["id"], "full", True)
        assert response.headers["Location"] == f"{SYNC}/runs/{first['id']}"
    plex_sim.world.faults.clear()
    assert (await finish(api_hub, first["id"])).status == "succeeded"
    assert await SyncRun.filter(source="plex:home").count() == 1
    joined = [e.details["joined"] for e in await AuditEvent.filter(action="sync.requested")]
    assert sorted(joined) == [False, True, True]


async def test_a_full_sync_while_an_incremental_one_runs_is_a_409(api_hub, plex_sim) -> None:
    admin = await api_hub.sign_in(role="admin")
    plex_sim.world.faults.add("hang")
    running = await (await start(api_hub, admin, "plex:home")).get_json()

    response = await start(api_hub, admin, "plex:home", {"full": True})

    assert response.status_code == 409
    assert response.content_type == PROBLEM
    problem = await response.get_json()
    assert problem["code"] == "conflict"
    assert "incremental" in problem["detail"] and f"run {running['id']}" in problem["detail"]
    plex_sim.world.faults.clear()
    assert (await finish(api_hub, running["id"])).status == "succeeded"
    assert await AuditEvent.filter(action="sync.requested").count() == 1


async def test_an_unknown_source_is_a_404_naming_it(api_hub) -> None:
    admin = await api_hub.sign_in(role="admin")

    response = await start(api_hub, admin, "plex:attic", {"full": True})

    assert response.status_code == 404
    assert response.content_type == PROBLEM
    problem = await response.get_json()
    assert problem["code"] == "not_found"
    assert "plex:attic" in problem["detail"] and "plex:home" in problem["detail"]
    assert await SyncRun.all().count() == 0


async def test_an_incremental_sync_of_a_source_without_changes_is_a_422_naming_full(
    api_hub,
) -> None:
    admin = await api_hub.sign_in(role="admin")

    refused = await start(api_hub, admin, "fake")

    assert refused.status_code == 422
    assert refused.content_type == PROBLEM
    problem = await refused.get_json()
    assert problem["code"] == "sync_unsupported"
    assert problem["errors"][0]["field"] == "full"
    assert "full sync" in problem["detail"]
    accepted = await start(api_hub, admin, "fake", {"full": True})
    assert accepted.status_code == 202
    assert (await finish(api_hub, (await accepted.get_json())["id"])).status == "succeeded"


@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        ({"json": {"full": "yes"}}, 422, "full"),
        ({"json": {"fast": True}}, 422, "fast"),
        ({"json": [True]}, 422, None),
        ({"data": "full", "headers": {"Content-Type": "text/plain"}}, 400, "body"),
    ],
    ids=["not-a-boolean", "unknown-field", "not-an-object", "not-json"],
)
async def test_a_bad_body_is_refused_naming_what_is_wrong(api_hub, kwargs, status, field) -> None:
    headers = await api_hub.sign_in(role="admin") | kwargs.pop("headers", {})

    response = await api_hub.client.post(f"{SYNC}/plex:home", headers=headers, **kwargs)

    assert response.status_code == status
    assert response.content_type == PROBLEM
    problem = await response.get_json()
    if field is not None:
        assert field in [item["field"] for item in problem["errors"]]
    assert await SyncRun.all().count() == 0


async def test_callers_without_run_syncs_are_refused_and_holders_let_in(api_hub) -> None:
    user = await api_hub.sign_in()  # search and request only
    calls = [
        ("POST", f"{SYNC}/plex:home"),
        ("GET", f"{SYNC}/runs"),
        ("GET", f"{SYNC}/runs/1"),
        ("GET", f"{SYNC}/sources"),
    ]
    for method, path in calls:
        response = await api_hub.client.open(path, method=method, headers=user, json={})
        assert response.status_code == 403, (method, path)
        problem = await response.get_json()
        assert (problem["code"], problem["permission"]) == ("permission_denied", "run_syncs")
        anonymous = await api_hub.client.open(path, method=method, json={})
        assert anonymous.status_code == 401, (method, path)
    assert await SyncRun.all().count() == 0

    syncer = await api_hub.sign_in(permissions=["run_syncs"], username="syncer")
    response = await start(api_hub, syncer, "plex:home", {"full": True})
    assert response.status_code == 202
    assert (await response.get_json())["requested_by"] == "syncer"
    await finish(api_hub, (await response.get_json())["id"])


async def test_runs_are_listed_newest_first_filtered_and_paged(api_hub, plex_sim) -> None:
    admin = await api_hub.sign_in(role="admin")

    async def sync(source: str, body: dict) -> int:
        run_id = (await (await start(api_hub, admin, source, body)).get_json())["id"]
        await finish(api_hub, run_id)
        return run_id

    home_full = await sync("plex:home", {"full": True})
    home_incremental = await sync("plex:home", {})
    cabin_full = await sync("plex:cabin", {"full": True})
    plex_sim.world.faults.add("error", status=500)
    cabin_failed = await sync("plex:cabin", {})
    plex_sim.world.faults.clear()

    async def listed(**query: Any) -> dict:
        response = await api_hub.client.get(f"{SYNC}/runs", headers=admin, query_string=query)
        assert response.status_code == 200, await response.get_json()
        return await response.get_json()

    everything = await listed()
    assert [r["id"] for r in everything["items"]] == [
        cabin_failed,
        cabin_full,
        home_incremental,
        home_full,
    ]
    assert (everything["total"], everything["next_cursor"]) == (4, None)

    first = await listed(limit=3)
    assert [r["id"] for r in first["items"]] == [cabin_failed, cabin_full, home_incremental]
    assert first["total"] == 4 and first["next_cursor"]
    second = await listed(limit=3, cursor=first["next_cursor"])
    assert [r["id"] for r in second["items"]] == [home_full]
    assert second["next_cursor"] is None

    assert [r["id"] for r in (await listed(source="plex:cabin"))["items"]] == [
        cabin_failed,
        cabin_full,
    ]
    [failed] = (await listed(status="failed"))["items"]
    assert failed["id"] == cabin_failed
    assert "plex:cabin failed on page 1" in failed["error"]
    assert [r["id"] for r in (await listed(kind="incremental"))["items"]] == [
        cabin_failed,
        home_incremental,
    ]
    both = await listed(source="plex:home", kind="full", status="succeeded")
    assert [r["id"] for r in both["items"]] == [home_full] and both["total"] == 1
    assert (await listed(source="plex:attic"))["total"] == 0


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ({"status": "done"}, 422, "status"),
        ({"kind": "partial"}, 422, "kind"),
        ({"limit": "0"}, 422, "limit"),
        ({"limit": "many"}, 422, "limit"),
        ({"cursor": "not-a-cursor"}, 400, "cursor"),
        ({"sort": "oldest"}, 422, "sort"),
    ],
)
async def test_bad_list_parameters_are_refused_naming_them(api_hub, query, status, field) -> None:
    admin = await api_hub.sign_in(role="admin")

    response = await api_hub.client.get(f"{SYNC}/runs", headers=admin, query_string=query)

    assert response.status_code == status
    assert response.content_type == PROBLEM
    problem = await response.get_json()
    assert field in [item["field"] for item in problem["errors"]]


@pytest.mark.parametrize("run_id", ["424242", "99999999999999999999999"])
async def test_a_missing_run_is_a_404(api_hub, run_id) -> None:
    admin = await api_hub.sign_in(role="admin")

    response = await api_hub.client.get(f"{SYNC}/runs/{run_id}", headers=admin)

    assert response.status_code == 404
    assert response.content_type == PROBLEM


async def test_sources_show_their_schedule_active_run_and_last_runs(
    medianest_hub: HubHarness, plex_sim: RunningSimulator, mode: dict
) -> None:
    plugins = {"plex": plugin, "fake": FakePlugin(FakeLibrary("fake", 30, changes=False))}
    schedule = {"plex:cabin": {"incremental_minutes": 45, "full_daily_at": "03:30"}}
    async with medianest_hub.run(
        plugins,
        plugins={"plex": patient_section(plex_sim)},
        sync=SYNC_SETTINGS | {"sources": schedule},
        **mode,
    ) as running:
        with running.hub.database.activate():
            admin = await running.sign_in(role="admin")

            async def sources() -> dict[str, dict]:
                response = await running.client.get(f"{SYNC}/sources", headers=admin)
                assert response.status_code == 200
                body = await response.get_json()
                assert body["total"] == len(body["items"])
                return {source["id"]: source for source in body["items"]}

            before = await sources()
            assert sorted(before) == ["fake", "plex:cabin", "plex:home"]
            home = before["plex:home"]
            assert home["name"] and home["incremental"] is True
            assert home["schedule"] == {"incremental_minutes": 0, "full_daily_at": None}
            assert (home["active"], home["last_full"], home["last_incremental"]) == (
                None,
                None,
                None,
            )
            assert before["plex:cabin"]["schedule"] == {
                "incremental_minutes": 45,
                "full_daily_at": "03:30",
            }
            assert before["fake"]["incremental"] is False

            full = await (await start(running, admin, "plex:home", {"full": True})).get_json()
            await finish(running, full["id"])
            incremental = await (await start(running, admin, "plex:home", {})).get_json()
            await finish(running, incremental["id"])
            plex_sim.world.faults.add("hang")
            going = await (await start(running, admin, "plex:home", {"full": True})).get_json()

            home = (await sources())["plex:home"]
            assert home["active"]["id"] == going["id"]
            assert home["active"]["status"] in ("queued", "running")
            assert home["last_full"]["id"] == full["id"]
            assert home["last_full"]["status"] == "succeeded"
            assert home["last_incremental"]["id"] == incremental["id"]

            plex_sim.world.faults.clear()
            await finish(running, going["id"])
            home = (await sources())["plex:home"]
            assert home["active"] is None and home["last_full"]["id"] == going["id"]
