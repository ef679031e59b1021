"""The suite's own plumbing: migrated databases from templates, a Redis database per process."""

from __future__ import annotations

import shutil

import pytest
import redis

from medianest.core.db import Database
from medianest.core.db.models import User
from tests import services
from tests.databases import SqliteTemplate


@pytest.mark.postgres
async def test_migrated_postgres_databases_hold_the_schema_and_are_each_their_own(
    migrated_postgres_url: str, postgres_url: str
) -> None:
    migrated = Database(migrated_postgres_url)
    empty = Database(postgres_url)
    await migrated.open()
    await empty.open()
    try:
        assert await migrated.pending_migrations() == []
        assert await empty.pending_migrations()  # the plain fixture stays empty
        with migrated.activate():
            await User.create(username="only-here", role="user")
            assert await User.filter(username="only-here").count() == 1
    finally:
        await migrated.close()
        await empty.close()


@pytest.mark.postgres
async def test_a_second_migrated_database_does_not_see_the_first_one_s_rows(
    migrated_postgres_url: str,
) -> None:
    database = Database(migrated_postgres_url)
    await database.open()
    try:
        with database.activate():
            assert await User.all().count() == 0
    finally:
        await database.close()


async def test_an_embedded_hub_starts_on_a_copy_of_the_migrated_file(tmp_path) -> None:
    template = SqliteTemplate()
    try:
        await template.copy_to(tmp_path / "a")
        await template.copy_to(tmp_path / "b")
        for name in ("a", "b"):
            database = Database(f"sqlite://{tmp_path / name / 'medianest.sqlite3'}")
            await database.open()
            try:
                assert await database.pending_migrations() == []
            finally:
                await database.close()
        kept = tmp_path / "a" / "medianest.sqlite3"
        kept.write_bytes(b"")  # a hub restarted on its data directory keeps its database
        await template.copy_to(tmp_path / "a")
        assert kept.read_bytes() == b""
    finally:
        template.remove()


@pytest.mark.parametrize(
    ("worker", "expected"), [("", "/14"), ("gw0", "/14"), ("gw1", "/13"), ("gw5", "/9")]
)
def test_each_parallel_test_process_flushes_a_redis_database_of_its_own(
    monkeypatch, worker, expected
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    assert services._per_worker("redis://127.0.0.1:6379/14") == f"redis://127.0.0.1:6379{expected}"


def test_too_many_parallel_test_processes_for_the_redis_databases_is_said(monkeypatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    with pytest.raises(RuntimeError, match="too low for 4 parallel test processes"):
        services._per_worker("redis://127.0.0.1:6379/2")


def test_a_parallel_test_process_gets_a_redis_server_of_its_own(monkeypatch) -> None:
    # Databases keep keys apart, not pub/sub channels: hubs in two test processes on one
    # server would hear each other's messages.
    if shutil.which("redis-server") is None:
        services.service_missing("redis-server", "the binary is not installed")
    configured = "redis://127.0.0.1:6379/14"
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert services._test_redis(configured) == configured
    started = services.start_redis_server(configured)
    assert started is not None
    url, process = started
    try:
        assert url.endswith("/14") and url != configured
        with redis.Redis.from_url(url) as client:
            assert client.ping()
    finally:
        services.stop_redis_server(process)
    assert process.poll() is not None
