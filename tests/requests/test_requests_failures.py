"""Nothing half-saved: each step of filing a request failing in turn leaves the hub and the
backend agreeing (both hold the request, or neither), and the answer names what failed."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from tortoise.exceptions import OperationalError

from medianest.core.db.models import MediaRequest as RequestRow
from medianest.sdk import ConflictError, UpstreamError, UpstreamUnreachableError
from medianest.sdk.testing import HubHarness
from tests.requests.conftest import PROBLEM, SETTINGS, RequestsHub
from tests.requests.fake_backend import BACKEND_ID, FakeRequests, FakeRequestsPlugin
from tests.services import SECRET_KEY
from tests.tcp_proxy import TcpProxy

TIMEOUT = SETTINGS["requests"]["backend_timeout_seconds"]


async def _local_count(hub: RequestsHub) -> int:
    with hub.hub.database.activate():
        return await RequestRow.all().count()


async def test_a_failing_backend_is_503_naming_it_and_nothing_is_kept(
    requests_hub: RequestsHub,
) -> None:
    ann = await requests_hub.person("ann")
    requests_hub.backend.failures["create"] = UpstreamUnreachableError(
        "connection refused", plugin="fake"
    )
    answer = await requests_hub.ask(ann, kind="movie", tmdb_id=551)
    problem = await answer.get_json()
    assert answer.status_code == 503 and answer.mimetype == PROBLEM
    assert problem["source"] == BACKEND_ID and BACKEND_ID in problem["detail"]
    assert problem["code"] == "upstream_unreachable"
    assert int(answer.headers["Retry-After"]) > 0
    assert await _local_count(requests_hub) == 0 and requests_hub.backend.requests == {}


async def test_a_slow_backend_is_504_naming_it_within_the_timeout(
    requests_hub: RequestsHub,
) -> None:
    ann = await requests_hub.person("ann")
    requests_hub.backend.delay = 5.0
    started = time.perf_counter()
    answer = await requests_hub.ask(ann, kind="movie", tmdb_id=551)
    took = time.perf_counter() - started
    problem = await answer.get_json()
    assert answer.status_code == 504, problem
    assert problem["source"] == BACKEND_ID and "did not answer" in problem["detail"]
    # The create call and the look-up after it, each within the timeout.
    assert took < 2 * TIMEOUT + 0.5
    assert await _local_count(requests_hub) == 0 and requests_hub.backend.requests == {}


async def test_a_request_filed_after_the_timeout_is_found_and_kept(
    requests_hub: RequestsHub,
) -> None:
    ann = await requests_hub.person("ann")
    requests_hub.backend.create_delay = 5.0  # files it, then does not answer in time
    answer = await requests_hub.ask(ann, kind="movie", tmdb_id=551)
    body = await answer.get_json()
    assert answer.status_code == 201, body
    assert list(requests_hub.backend.requests) == [body["remote_id"]]
    assert await _local_count(requests_hub) == 1
    assert [c.principal.username for c in requests_hub.backend.calls_of("status")] == ["ann"]


async def test_a_request_filed_late_that_cannot_be_found_is_withdrawn(
    embedded_hub: RequestsHub,
) -> None:
    ann = await embedded_hub.person("ann")
    embedded_hub.backend.create_delay = 5.0
    embedded_hub.backend.failures["status"] = UpstreamError("status is down", plugin="fake")
    answer = await embedded_hub.ask(ann, kind="movie", tmdb_id=551)
    assert answer.status_code == 504
    assert len(embedded_hub.backend.requests) == 1  # the backend holds it for now
    for _ in range(int((TIMEOUT * 4 + 2) / 0.05)):
        if not embedded_hub.backend.requests:
            break
        await asyncio.sleep(0.05)
    assert embedded_hub.backend.requests == {}
    assert await _local_count(embedded_hub) == 0
    (delete,) = embedded_hub.backend.calls_of("delete")
    assert delete.principal.username == "ann"


async def test_a_failed_local_write_withdraws_the_backends_request(
    requests_hub: RequestsHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = await requests_hub.person("ann")

    async def broken(*args: object, **kwargs: object) -> None:
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(RequestRow, "create", broken)
    answer = await requests_hub.ask(ann, kind="movie", tmdb_id=551)
    problem = await answer.get_json()
    assert answer.status_code == 503 and problem["code"] == "request_not_saved"
    assert BACKEND_ID in problem["detail"] and "withdrawn" in problem["detail"]
    assert requests_hub.backend.requests == {}
    (delete,) = requests_hub.backend.calls_of("delete")
    assert delete.principal.username == "ann"
    monkeypatch.undo()
    assert await _local_count(requests_hub) == 0


async def test_a_failed_interest_row_rolls_the_request_back_too(
    embedded_hub: RequestsHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medianest.core.db.models import MediaRequestInterest

    ann = await embedded_hub.person("ann")

    async def broken(*args: object, **kwargs: object) -> None:
        raise OperationalError("database or disk is full")

    monkeypatch.setattr(MediaRequestInterest, "create", broken)
    answer = await embedded_hub.ask(ann, kind="movie", tmdb_id=551)
    assert answer.status_code == 503
    monkeypatch.undo()
    assert await _local_count(embedded_hub) == 0 and embedded_hub.backend.requests == {}


async def test_when_withdrawing_fails_too_the_answer_is_still_a_clear_503(
    embedded_hub: RequestsHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = await embedded_hub.person("ann")

    async def broken(*args: object, **kwargs: object) -> None:
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(RequestRow, "create", broken)
    embedded_hub.backend.failures["delete"] = UpstreamError("down", plugin="fake")
    answer = await embedded_hub.ask(ann, kind="movie", tmdb_id=551)
    assert answer.status_code == 503
    assert (await answer.get_json())["code"] == "request_not_saved"


async def test_a_race_lost_to_another_replica_joins_its_request(
    requests_hub: RequestsHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas both found no open request and both filed: the database's index lets one
    row in; the other replica withdraws its backend request and answers with the first."""
    ann = await requests_hub.person("ann")
    bob = await requests_hub.person("bob")
    first = await (await requests_hub.ask(ann, kind="movie", tmdb_id=551)).get_json()
    requests_hub.backend.requests.clear()  # the backend no longer refuses the duplicate
    service = requests_hub.hub.requests
    real = service._open_request
    calls = 0

    async def missed_once(kind: str, ids: object) -> object:
        nonlocal calls
        calls += 1
        return None if calls == 1 else await real(kind, ids)

    monkeypatch.setattr(service, "_open_request", missed_once)
    answer = await requests_hub.ask(bob, kind="movie", tmdb_id=551)
    problem = await answer.get_json()
    assert answer.status_code == 409 and problem["code"] == "already_requested", problem
    assert problem["request"]["id"] == first["id"]
    assert [p["username"] for p in problem["request"]["interested"]] == ["ann", "bob"]
    assert requests_hub.backend.requests == {}  # bob's duplicate was withdrawn
    assert await _local_count(requests_hub) == 1


async def test_a_request_only_the_backend_knows_is_409(embedded_hub: RequestsHub) -> None:
    ann = await embedded_hub.person("ann")
    embedded_hub.backend.failures["create"] = ConflictError("requested already", plugin="fake")
    answer = await embedded_hub.ask(ann, kind="movie", tmdb_id=551)
    assert answer.status_code == 409
    assert await _local_count(embedded_hub) == 0


@pytest.fixture
async def proxied_postgres(migrated_postgres_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    target = urlsplit(migrated_postgres_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    host = target.netloc.split("@")[-1]
    try:
        yield proxy, migrated_postgres_url.replace(host, f"127.0.0.1:{proxy.port}")
    finally:
        await proxy.stop()


async def test_postgres_going_away_after_the_backend_filed_withdraws_it(
    medianest_hub: HubHarness, proxied_postgres: tuple[TcpProxy, str], redis_url: str
) -> None:
    proxy, url = proxied_postgres
    backend = FakeRequests()
    plugin = FakeRequestsPlugin(backend)
    settings = {**SETTINGS, "database_url": url, "redis_url": redis_url, "secret_key": SECRET_KEY}
    async with medianest_hub.run({"fake": plugin}, **settings) as running:
        hub = RequestsHub(running, backend, plugin.events)
        ann = await hub.person("ann")
        backend.after_create = proxy.stop
        answer = await hub.ask(ann, kind="movie", tmdb_id=551)
        problem = await answer.get_json()
        assert answer.status_code == 503, problem
        assert problem["code"] == "request_not_saved"
        assert backend.requests == {} and len(backend.calls_of("delete")) == 1
        backend.after_create = None
        await proxy.start()
        for _ in range(50):
            try:
                count = await _local_count(hub)
                break
            except Exception:
                await asyncio.sleep(0.2)
        assert count == 0


async def test_sqlite_locked_after_the_backend_filed_withdraws_it(
    medianest_hub: HubHarness,
) -> None:
    backend = FakeRequests()
    plugin = FakeRequestsPlugin(backend)
    async with medianest_hub.run({"fake": plugin}, **SETTINGS) as running:
        hub = RequestsHub(running, backend, plugin.events)
        ann = await hub.person("ann")
        path = str((running.hub.settings.data_dir / "medianest.sqlite3").resolve())
        holder = sqlite3.connect(path, isolation_level=None)

        async def lock() -> None:
            holder.execute("BEGIN EXCLUSIVE")

        backend.after_create = lock
        try:
            answer = await hub.ask(ann, kind="movie", tmdb_id=551)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        problem = await answer.get_json()
        assert answer.status_code == 503, problem
        assert problem["code"] == "request_not_saved"
        assert backend.requests == {}
        assert await _local_count(hub) == 0
