"""Database: opening, pinging, closing, isolation between hubs, and clear connection errors."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from medianest.core.db import Database, DatabaseUnavailableError, redact_url
from medianest.core.db.models import RuntimeFlagValue
from medianest.sdk.errors import ConfigurationError, PluginError
from medianest.sdk.persistence import DatabaseModels
from tests.db.conftest import (
    NewURL,
    OpenDatabase,
    postgres_admin,
    postgres_url,
    with_credentials,
    with_database,
)

SECRET = "s3cr3t-Pa55"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _row(key: str) -> RuntimeFlagValue:
    return await RuntimeFlagValue.create(key=key, enabled=True, updated_at=datetime.now(UTC))


async def test_open_ping_close(url: str, dialect: str) -> None:
    database = Database(url)
    assert database.dialect == dialect
    assert not database.is_open
    await database.open()
    try:
        assert database.is_open
        await database.ping()
        await database.open()
    finally:
        await database.close()
    assert not database.is_open
    await database.close()
    with pytest.raises(DatabaseUnavailableError, match="not open"):
        await database.ping()


async def test_models_need_an_active_database(database: Database) -> None:
    with pytest.raises(RuntimeError, match="No TortoiseContext"):
        await RuntimeFlagValue.all().count()
    with database.activate():
        assert await RuntimeFlagValue.all().count() == 0


async def test_enter_keeps_the_database_current_until_exit(database: Database) -> None:
    token = database.enter()
    try:
        await _row("core.entered")
        assert await RuntimeFlagValue.filter(key="core.entered").exists()
    finally:
        Database.exit(token)
    with pytest.raises(RuntimeError, match="No TortoiseContext"):
        await RuntimeFlagValue.all().count()


async def test_two_databases_in_one_process_stay_isolated(
    new_url: NewURL, open_database: OpenDatabase
) -> None:
    first = await open_database(await new_url())
    second = await open_database(await new_url())
    with first.activate():
        await _row("core.first")
    with second.activate():
        await _row("core.second")
        with first.activate():
            assert [r.key for r in await RuntimeFlagValue.all()] == ["core.first"]
        assert [r.key for r in await RuntimeFlagValue.all()] == ["core.second"]


async def test_concurrent_tasks_each_use_their_own_database(
    new_url: NewURL, open_database: OpenDatabase
) -> None:
    first = await open_database(await new_url())
    second = await open_database(await new_url())

    async def work(database: Database, key: str, task: int) -> list[str]:
        with database.activate():
            for n in range(5):
                await _row(f"{key}.t{task}_{n}")
                await asyncio.sleep(0)
            return sorted({r.key.split(".")[0] for r in await RuntimeFlagValue.all()})

    plan = [(first, "a"), (second, "b"), (first, "a"), (second, "b")]
    results = await asyncio.gather(*(work(db, key, i) for i, (db, key) in enumerate(plan)))
    assert results == [["a"], ["b"], ["a"], ["b"]]


async def test_sqlite_directory_is_created_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "deeper" / "hub.sqlite3"
    database = Database(f"sqlite://{path}")
    await database.open()
    try:
        assert path.parent.is_dir()
        _, mode = await database.connection.execute_query("PRAGMA journal_mode")
        _, busy = await database.connection.execute_query("PRAGMA busy_timeout")
        assert mode[0][0].lower() == "wal"
        assert busy[0][0] >= 1000
    finally:
        await database.close()


async def test_sqlite_directory_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    database = Database(f"sqlite://{blocker / 'hub.sqlite3'}")
    with pytest.raises(ConfigurationError, match="cannot create the directory"):
        await database.open()
    assert not database.is_open


@pytest.mark.parametrize(
    "url",
    ["mysql://user:pw@localhost/db", "no-scheme-at-all", "sqlite://", "postgres://h:x/db"],
)
def test_malformed_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError, match="database URL"):
        Database(url)


def test_a_postgres_url_must_name_a_database() -> None:
    with pytest.raises(ConfigurationError, match="names no database"):
        Database(f"postgresql://user:{SECRET}@localhost")


def test_redacted_url_hides_the_password() -> None:
    database = Database(f"postgresql://admin:{SECRET}@db.example:5432/medianest?ssl=true")
    assert database.redacted_url == "postgresql://admin:***@db.example:5432/medianest?ssl=true"
    assert SECRET not in repr(database)
    assert redact_url(f"postgres://db/x?password={SECRET}") == "postgres://db/x?password=***"
    assert redact_url("sqlite:///data/medianest.sqlite3") == "sqlite:///data/medianest.sqlite3"


def test_plugin_keys_must_make_app_labels() -> None:
    models = DatabaseModels(models=("x.models",), migrations="x.migrations")
    with pytest.raises(PluginError, match="cannot name a database app") as caught:
        Database("sqlite://:memory:", plugin_models={"Bad Key": models})
    assert caught.value.plugin == "Bad Key"
    with pytest.raises(PluginError, match="already taken"):
        Database("sqlite://:memory:", plugin_models={"core": models})


async def test_a_plugin_models_module_that_does_not_import(tmp_path: Path) -> None:
    models = DatabaseModels(models=("medianest_no_such_module",), migrations="x.migrations")
    database = Database(f"sqlite://{tmp_path / 'hub.sqlite3'}", plugin_models={"ghost": models})
    with pytest.raises(PluginError, match="medianest_no_such_module") as caught:
        await database.open()
    assert caught.value.plugin == "ghost"


async def _open_error(url: str) -> ConfigurationError:
    database = Database(url)
    with pytest.raises(ConfigurationError) as caught:
        await database.open()
    assert not database.is_open
    assert caught.value.__cause__ is not None
    return caught.value


@pytest.mark.postgres
async def test_unknown_user_fails_at_open_with_the_password_redacted() -> None:
    await (await postgres_admin()).close()
    error = await _open_error(with_credentials(postgres_url(), "medianest_no_such_user", SECRET))
    assert "cannot connect to database" in str(error)
    assert "medianest_no_such_user:***@" in str(error)
    assert SECRET not in str(error)


@pytest.mark.postgres
async def test_missing_database_fails_at_open() -> None:
    await (await postgres_admin()).close()
    error = await _open_error(with_database(postgres_url(), "medianest_no_such_database"))
    assert "medianest_no_such_database" in str(error)


async def test_unreachable_server_fails_at_open_with_the_password_redacted() -> None:
    error = await _open_error(f"postgres://medianest:{SECRET}@127.0.0.1:{_free_port()}/medianest")
    assert "cannot connect to database postgres://medianest:***@127.0.0.1" in str(error)
    assert SECRET not in str(error)


@pytest.mark.postgres
async def test_logs_show_only_the_redacted_url() -> None:
    await (await postgres_admin()).close()
    with structlog.testing.capture_logs() as logs:
        database = Database(with_credentials(postgres_url(), "postgres", SECRET))
        await database.open()
        await database.close()
    assert [entry["event"] for entry in logs] == ["database_open", "database_closed"]
    assert SECRET not in repr(logs)
    assert logs[0]["url"] == database.redacted_url


@pytest.mark.postgres
async def test_sqlite_and_postgres_cannot_be_open_side_by_side(
    tmp_path: Path, open_database: OpenDatabase
) -> None:
    await (await postgres_admin()).close()
    await open_database(f"sqlite://{tmp_path / 'hub.sqlite3'}", migrate=False)
    postgres = Database(postgres_url())
    with pytest.raises(ConfigurationError, match="one SQL dialect per process"):
        await postgres.open()


async def test_ping_fails_when_the_database_does_not_answer_in_time(database: Database) -> None:
    async with contextlib.AsyncExitStack() as busy:
        # Take every connection (SQLite has one, the PostgreSQL pool five) so the ping waits.
        for _ in range(1 if database.dialect == "sqlite" else 5):
            await busy.enter_async_context(database.connection.acquire_connection())
        with pytest.raises(DatabaseUnavailableError, match=r"did not answer within 0\.2 s"):
            await database.ping(timeout_seconds=0.2)
    await database.ping()
