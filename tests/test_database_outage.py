"""The database going away while the hub serves: requests that need it get 503 problem+json
with ``Retry-After`` naming the database (never its address or credentials), readiness says
so, and the hub answers again once the database is back.

PostgreSQL is cut through a TCP proxy the test controls (the shared server is never touched);
SQLite is held by a writer outside the hub past the hub's busy timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from medianest.core.auth import audit
from medianest.core.db import DatabaseUnavailableError
from medianest.core.db.models import ApiKey
from tests.security_testing import PROBLEM
from tests.services import SECRET_KEY
from tests.tcp_proxy import TcpProxy

NEW_KEY = {"name": "scripts", "permissions": ["search"]}


@pytest.fixture
async def proxied_postgres(postgres_url) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A TCP proxy in front of this test's PostgreSQL database, and the URL through it."""
    target = urlsplit(postgres_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    through = target._replace(
        netloc=target.netloc.replace(target.netloc.split("@")[-1], f"127.0.0.1:{proxy.port}")
    )
    try:
        yield proxy, through.geturl()
    finally:
        await proxy.stop()


async def assert_database_unavailable(response, *, secrets: tuple[str, ...]) -> dict:
    text = (await response.get_data()).decode()
    assert response.status_code == 503, text
    assert response.content_type == PROBLEM
    assert int(response.headers["Retry-After"]) > 0
    body = await response.get_json()
    assert body["code"] == "database_unavailable" and "database" in body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    for secret in secrets:
        assert secret not in text
    return body


async def eventually_ok(call) -> None:
    for _ in range(50):
        response = await call()
        if response.status_code < 500:
            break
        await asyncio.sleep(0.2)
    assert response.status_code < 300, await response.get_data()


async def test_postgres_unreachable_is_503_naming_the_database_then_recovers(
    medianest_hub, proxied_postgres, redis_url
) -> None:
    proxy, url = proxied_postgres
    settings = {"database_url": url, "redis_url": redis_url, "secret_key": SECRET_KEY}
    async with medianest_hub.run(**settings) as running:
        admin = await running.sign_in(role="admin")
        client = running.client
        assert (await client.get("/api/v1/users", headers=admin)).status_code == 200

        await proxy.stop()
        secrets = ("postgres://", "127.0.0.1", str(proxy.port), "postgres@")
        for response in (
            await client.get("/api/v1/users", headers=admin),
            await client.post("/api/v1/me/api-keys", json=NEW_KEY, headers=admin),
            await client.get("/api/v1/audit", headers=admin),
        ):
            body = await assert_database_unavailable(response, secrets=secrets)
            assert "PostgreSQL" in body["detail"]
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        database = next(
            c for c in (await ready.get_json())["components"] if c["name"] == "database"
        )
        assert database["ok"] is False

        await proxy.start()
        await eventually_ok(lambda: client.get("/api/v1/users", headers=admin))
        assert (await client.get("/health/ready")).status_code == 200
        with running.hub.database.activate():
            assert await ApiKey.all().count() == 0  # the refused write left nothing behind
        created = await client.post("/api/v1/me/api-keys", json=NEW_KEY, headers=admin)
        assert created.status_code == 201


async def test_sqlite_locked_past_the_busy_timeout_is_503_then_recovers(medianest_hub) -> None:
    async with medianest_hub.run() as running:
        admin = await running.sign_in(role="admin")
        client = running.client
        path = str((running.hub.settings.data_dir / "medianest.sqlite3").resolve())
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            response = await client.post("/api/v1/me/api-keys", json=NEW_KEY, headers=admin)
            body = await assert_database_unavailable(response, secrets=(path,))
            assert "SQLite" in body["detail"]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        created = await client.post("/api/v1/me/api-keys", json=NEW_KEY, headers=admin)
        assert created.status_code == 201, await created.get_data()


@pytest.mark.parametrize("step", ["create", "revoke"])
async def test_a_key_change_whose_audit_line_cannot_be_written_leaves_nothing(
    medianest_hub, mode, monkeypatch, step
) -> None:
    async with medianest_hub.run(**mode) as running:
        admin = await running.sign_in(role="admin")
        client = running.client
        existing = await client.post("/api/v1/me/api-keys", json=NEW_KEY, headers=admin)
        key_id = (await existing.get_json())["id"]

        async def database_gone(*args, **kwargs):
            raise DatabaseUnavailableError("the database is not answering")

        monkeypatch.setattr(audit, "record", database_gone)
        if step == "create":
            response = await client.post("/api/v1/me/api-keys", json=NEW_KEY, headers=admin)
        else:
            response = await client.delete(f"/api/v1/me/api-keys/{key_id}", headers=admin)
        await assert_database_unavailable(response, secrets=())
        with running.hub.database.activate():
            keys = await ApiKey.all()
        assert [(key.id, key.revoked_at) for key in keys] == [(key_id, None)]
