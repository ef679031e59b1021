"""Applying tortoise migrations of core and plugins on one connection, one process at a time.

The caller makes the database's tortoise context current (see ``Database.activate``): the
migration executor opens its transactions through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.migrations.executor import MigrationExecutor, PlanStep

from medianest.sdk.errors import ConfigurationError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

log = structlog.get_logger(__name__)

LOCK_TIMEOUT_SECONDS = 300.0
"""How long a process waits for another one to finish migrating the same database."""

_LOCK_POLL_SECONDS = 0.05
_PG_LOCK_KEY = 0x4D4E_4D49_4752  # "MNMIGR": the advisory lock every MediaNest process agrees on


def _forward_names(plan_steps: list[PlanStep]) -> list[str]:
    return [
        f"{step.migration.app_label}.{step.migration.name}"
        for step in plan_steps
        if not step.backward
    ]


async def pending_migrations(
    connection: BaseDBAsyncClient, apps: dict[str, dict[str, Any]]
) -> list[str]:
    """The migrations of ``apps`` not yet recorded as applied, in the order they would run."""
    return _forward_names(await MigrationExecutor(connection, apps).plan())


async def apply_migrations(
    connection: BaseDBAsyncClient,
    apps: dict[str, dict[str, Any]],
    *,
    sqlite_path: Path | None,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    """Apply every pending migration of ``apps``; return their ``app.name`` in order.

    Processes migrating the same database take turns (an advisory lock on PostgreSQL, a lock
    file beside a SQLite file), so replicas starting together apply each migration once.
    Each migration runs in its own transaction.

    :raises ConfigurationError: another process held the lock for too long.
    """
    if not await pending_migrations(connection, apps):
        return []
    applied: list[str] = []

    def on_event(event: str, app_label: str, name: str) -> None:
        qualified = f"{app_label}.{name}"
        if event == "apply_start":
            log.info("migration_start", migration=qualified)
            if progress is not None:
                progress(qualified)
        elif event == "apply_done":
            applied.append(qualified)
            log.info("migration_applied", migration=qualified)

    async with _migration_lock(connection, sqlite_path):
        executor = MigrationExecutor(connection, apps)
        await executor.migrate(direction="forward", progress=on_event)
    return applied


@contextlib.asynccontextmanager
async def _migration_lock(
    connection: BaseDBAsyncClient, sqlite_path: Path | None
) -> AsyncIterator[None]:
    if connection.capabilities.dialect == "postgres":
        async with _postgres_lock(connection):
            yield
    elif sqlite_path is not None and fcntl is not None:
        async with _file_lock(sqlite_path.with_name(sqlite_path.name + ".migrate-lock")):
            yield
    else:
        yield


@contextlib.asynccontextmanager
async def _postgres_lock(connection: BaseDBAsyncClient) -> AsyncIterator[None]:
    async with connection.acquire_connection() as raw:
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        while not await raw.fetchval("SELECT pg_try_advisory_lock($1)", _PG_LOCK_KEY):
            if time.monotonic() > deadline:
                raise ConfigurationError(
                    "another process has been migrating this database for more than "
                    f"{LOCK_TIMEOUT_SECONDS:.0f} s (PostgreSQL advisory lock {_PG_LOCK_KEY})"
                )
            await asyncio.sleep(_LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            await raw.execute("SELECT pg_advisory_unlock($1)", _PG_LOCK_KEY)


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    assert fcntl is not None
    with path.open("a") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ConfigurationError(
                        "another process has been migrating this database for more than "
                        f"{LOCK_TIMEOUT_SECONDS:.0f} s (lock file {path})"
                    ) from None
                await asyncio.sleep(_LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
