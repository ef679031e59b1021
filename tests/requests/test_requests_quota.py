"""Quotas: per person and kind, defaults from settings, an admin's override, the backend's own
refusal shown the same way, and two replicas letting no extra request in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from medianest.core.db.models import AuditEvent
from medianest.core.db.models import MediaRequest as RequestRow
from medianest.sdk.access import Permission
from medianest.sdk.testing import HubHarness
from tests.requests.conftest import SETTINGS, RequestsHub
from tests.requests.fake_backend import FakeRequests, FakeRequestsPlugin

QUOTAS = {"quota": {"movie": {"limit": 2, "days": 7}, "show": {"limit": 1, "days": 30}}}


async def _hub(medianest_hub: HubHarness, mode: dict, backend: FakeRequests, **extra: object):
    plugin = FakeRequestsPlugin(backend)
    settings = {**SETTINGS, "requests": {**SETTINGS["requests"], **QUOTAS}, **extra}
    return medianest_hub.run({"fake": plugin}, **settings, **mode), plugin


async def test_the_default_quota_refuses_before_the_backend_is_asked(
    medianest_hub: HubHarness, mode: dict, backend: FakeRequests
) -> None:
    context, plugin = await _hub(medianest_hub, mode, backend)
    async with context as running:
        hub = RequestsHub(running, backend, plugin.events)
        ann = await hub.person("ann")
        for tmdb in (551, 552):
            assert (await hub.ask(ann, kind="movie", tmdb_id=tmdb)).status_code == 201
        refused = await hub.ask(ann, kind="movie", tmdb_id=553)
        problem = await refused.get_json()
        assert refused.status_code == 403 and problem["code"] == "quota_exceeded"
        assert problem["limit"] == 2 and problem["days"] == 7 and problem["remaining"] == 0
        reset = datetime.fromisoformat(problem["reset_at"])
        assert timedelta(days=6, hours=23) < reset - datetime.now(UTC) <= timedelta(days=7)
        assert len(backend.calls_of("create")) == 2
        # Shows are counted apart.
        assert (await hub.ask(ann, kind="show", tmdb_id=1401)).status_code == 201
        assert (await hub.ask(ann, kind="show", tmdb_id=1402)).status_code == 403
        mine = await (
            await hub.client.get("/api/v1/requests/quota", headers=ann.headers)
        ).get_json()
        assert [(q["kind"], q["used"], q["remaining"]) for q in mine["items"]] == [
            ("movie", 2, 0),
            ("show", 1, 0),
        ]
        # Requests older than the period no longer count.
        with running.hub.database.activate():
            await RequestRow.filter(kind="movie").update(
                created_at=datetime.now(UTC) - timedelta(days=8)
            )
        assert (await hub.ask(ann, kind="movie", tmdb_id=553)).status_code == 201


async def test_an_admin_sets_a_persons_own_quota(
    medianest_hub: HubHarness, backend: FakeRequests
) -> None:
    context, plugin = await _hub(medianest_hub, {}, backend)
    async with context as running:
        hub = RequestsHub(running, backend, plugin.events)
        ann = await hub.person("ann")
        boss = await hub.person("boss", permissions=[Permission.MANAGE_USERS])
        url = f"/api/v1/users/{ann.id}/request-quota"
        changed = await hub.client.put(
            url, json={"movie": {"limit": 3, "days": 1}}, headers=boss.headers
        )
        body = await changed.get_json()
        assert changed.status_code == 200, body
        assert body["items"][0] == {
            "kind": "movie",
            "limit": 3,
            "days": 1,
            "used": 0,
            "remaining": 3,
            "reset_at": None,
            "overridden": True,
        }
        assert body["items"][1]["overridden"] is False and body["items"][1]["limit"] == 1
        for tmdb in (551, 552, 553):
            assert (await hub.ask(ann, kind="movie", tmdb_id=tmdb)).status_code == 201
        assert (await hub.ask(ann, kind="movie", tmdb_id=554)).status_code == 403
        # Unlimited, then back to the default.
        await hub.client.put(url, json={"movie": {"limit": 0, "days": 1}}, headers=boss.headers)
        assert (await hub.ask(ann, kind="movie", tmdb_id=554)).status_code == 201
        reset = await hub.client.put(url, json={"movie": None}, headers=boss.headers)
        assert (await reset.get_json())["items"][0]["overridden"] is False
        read = await (await hub.client.get(url, headers=boss.headers)).get_json()
        assert read["items"][0]["used"] == 4 and read["items"][0]["remaining"] == 0
        with running.hub.database.activate():
            assert await AuditEvent.filter(action="request.quota_changed").count() == 3
        nothing = await hub.client.put(url, json={}, headers=boss.headers)
        assert nothing.status_code == 422
        bad = await hub.client.put(
            url, json={"movie": {"limit": -1, "days": 1}}, headers=boss.headers
        )
        assert bad.status_code == 422
        nobody = await hub.client.put(
            "/api/v1/users/99999/request-quota", json={"movie": None}, headers=boss.headers
        )
        assert nobody.status_code == 404
        refused = await hub.client.put(url, json={"movie": None}, headers=ann.headers)
        assert refused.status_code == 403


async def test_people_who_manage_requests_are_not_held_to_the_default(
    medianest_hub: HubHarness, backend: FakeRequests
) -> None:
    context, plugin = await _hub(medianest_hub, {}, backend)
    async with context as running:
        hub = RequestsHub(running, backend, plugin.events)
        boss = await hub.person("boss", role="admin")
        for tmdb in (551, 552, 553):
            assert (await hub.ask(boss, kind="movie", tmdb_id=tmdb)).status_code == 201


async def test_the_backends_quota_refusal_is_the_same_problem(
    requests_hub: RequestsHub,
) -> None:
    ann = await requests_hub.person("ann")
    requests_hub.backend.quota_left = 0
    refused = await requests_hub.ask(ann, kind="movie", tmdb_id=551)
    problem = await refused.get_json()
    assert refused.status_code == 403 and problem["code"] == "quota_exceeded"
    assert "Quota exceeded" in problem["detail"] and "fake:requests" in problem["detail"]
    assert problem.get("remaining") is None
    with requests_hub.hub.database.activate():
        assert await RequestRow.all().count() == 0


async def test_two_replicas_let_no_request_past_the_quota(
    medianest_hub: HubHarness, migrated_postgres_url: str, redis_url: str
) -> None:
    """The same person asking on two replicas at once, with one request left: one is filed."""
    from tests.services import SECRET_KEY

    backend = FakeRequests(delay=0.05)
    scaled = {
        "database_url": migrated_postgres_url,
        "redis_url": redis_url,
        "secret_key": SECRET_KEY,
    }
    one_left = {**SETTINGS["requests"], "quota": {"movie": {"limit": 1, "days": 7}}}
    settings = {**SETTINGS, "requests": one_left, **scaled}
    async with (
        medianest_hub.run({"fake": FakeRequestsPlugin(backend)}, **settings) as first,
        medianest_hub.run({"fake": FakeRequestsPlugin(backend)}, **settings) as second,
    ):
        ann = await RequestsHub(first, backend, FakeRequestsPlugin(backend).events).person("ann")
        answers = await asyncio.gather(
            first.client.post(
                "/api/v1/requests", json={"kind": "movie", "tmdb_id": 551}, headers=ann.headers
            ),
            second.client.post(
                "/api/v1/requests", json={"kind": "movie", "tmdb_id": 552}, headers=ann.headers
            ),
        )
        assert sorted(a.status_code for a in answers) == [201, 403]
        assert len(backend.requests) == 1
