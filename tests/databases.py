"""Migrated databases for tests, made in milliseconds from a template migrated once.

Migrating a new database takes about a tenth of a second on PostgreSQL and on SQLite, for
every test that starts a hub. Instead:

- PostgreSQL: the first test that needs a migrated database builds
  ``medianest_template_<digest>`` (``digest`` of core's migration files, so a new migration
  makes a new template), under an advisory lock so parallel test processes build it once;
  each test then gets ``CREATE DATABASE ... TEMPLATE`` of it. The template accepts no
  connections (cloning needs none open) and is kept for the next run of the same schema.
- SQLite: each test process migrates one file and copies it into each hub's data directory.

Hubs still run their migrations at start: with the schema already there, that is a no-op,
and a plugin's own migrations (``medianest-hello``) are applied on top as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import tempfile
import urllib.parse
import uuid
from pathlib import Path

import asyncpg

from medianest.core.db import Database

MIGRATIONS = Path(__file__).resolve().parent.parent / "core" / "db" / "migrations"
TEMPLATE_PREFIX = "medianest_template_"
TEST_DATABASE_PREFIX = "medianest_test_"
SQLITE_FILE_NAME = "medianest.sqlite3"
"""The file a hub's embedded database lives in, inside its data directory."""
_BUILD_LOCK = 0x4D4E_5445_4D50  # "MNTEMP": one template build at a time on the server


def schema_digest() -> str:
    """A digest of core's migration files: the schema a template holds."""
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


async def _migrate(url: str) -> None:
    database = Database(url)
    await database.open()
    try:
        await database.migrate()
    finally:
        await database.close()


async def postgres_template(admin: asyncpg.Connection, server_url: str) -> str:
    """The name of the migrated template database of this schema, built when missing."""
    name = f"{TEMPLATE_PREFIX}{schema_digest()}"
    exists = "SELECT 1 FROM pg_database WHERE datname = $1"
    if await admin.fetchval(exists, name):
        return name
    await admin.execute("SELECT pg_advisory_lock($1)", _BUILD_LOCK)
    try:
        if await admin.fetchval(exists, name):  # built by another process meanwhile
            return name
        building = f"{name}_building"
        await admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{building}"')
        try:
            await _migrate(with_database(server_url, building))
        except BaseException:
            await admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            raise
        # Published complete or not at all; no connection may hold it open for cloning.
        await admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        await admin.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE true ALLOW_CONNECTIONS false')
        return name
    finally:
        await admin.execute("SELECT pg_advisory_unlock($1)", _BUILD_LOCK)


async def create_migrated_postgres(admin: asyncpg.Connection, server_url: str) -> str:
    """Create a new database holding the migrated schema; return its name."""
    name = f"{TEST_DATABASE_PREFIX}{uuid.uuid4().hex[:12]}"
    for attempt in range(2):
        template = await postgres_template(admin, server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return name
        except asyncpg.InvalidCatalogNameError:
            if attempt:  # dropped between the lookup and the copy, twice: give up
                raise
    raise AssertionError("unreachable")


class SqliteTemplate:
    """One migrated SQLite file per test process, copied into each hub's data directory."""

    def __init__(self) -> None:
        self._path: Path | None = None

    async def copy_to(self, data_dir: Path) -> None:
        """Put a migrated database in ``data_dir`` (where the hub's embedded database lives),
        unless one is there already (a hub restarted on the same data directory)."""
        source = await self._file()
        await asyncio.to_thread(_copy_unless_present, source, data_dir / SQLITE_FILE_NAME)

    async def _file(self) -> Path:
        if self._path is None:
            directory = Path(tempfile.mkdtemp(prefix="medianest-sqlite-template-"))
            path = directory / SQLITE_FILE_NAME
            await _migrate(f"sqlite://{path}")  # closing it folds the WAL into the file
            if self._path is None:  # hubs started together: the first one built wins
                self._path = path
            else:
                shutil.rmtree(directory, ignore_errors=True)
        return self._path

    def remove(self) -> None:
        """Delete the migrated file (at the end of the test session)."""
        if self._path is not None:
            shutil.rmtree(self._path.parent, ignore_errors=True)
            self._path = None


def _copy_unless_present(source: Path, target: Path) -> None:
    if target.exists():
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    except OSError:
        # A data directory the hub cannot use either: leave it to the hub to say so.
        with contextlib.suppress(OSError):
            target.unlink(missing_ok=True)
