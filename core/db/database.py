"""One hub's database: its own tortoise context, connections, models and migrations.

Nothing here is process-global: every :class:`Database` owns a ``TortoiseContext``, so several
hubs (tests build many) live in one process, each on its own database. Models reach the database
that is *current* in the calling task: core makes a hub's database current for each request
and each job (:meth:`Database.enter` / :meth:`Database.exit`, or ``with db.activate():``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import weakref
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient

# ``TortoiseContext.__enter__`` keeps its reset token on the context object (one slot), so
# concurrent tasks entering the same context would reset each other's; the context variable
# itself gives every task its own token.
from tortoise.context import TortoiseContext, _current_context

from medianest.core.db import migrator
from medianest.core.db.config import apps_config, tortoise_config
from medianest.core.db.urls import (
    POSTGRES_CONNECT_TIMEOUT_S,
    DatabaseURL,
    Dialect,
    describe_tls_failure,
)
from medianest.sdk.errors import ConfigurationError, MediaNestError, PluginError
from medianest.sdk.persistence import DatabaseModels

log = structlog.get_logger(__name__)

ActivationToken = contextvars.Token[TortoiseContext | None]
"""What :meth:`Database.enter` returns and :meth:`Database.exit` takes back."""

_NO_PLUGINS: Mapping[str, DatabaseModels] = MappingProxyType({})
_OPEN_TIMEOUT_S = POSTGRES_CONNECT_TIMEOUT_S + 5.0

_open_databases: weakref.WeakSet[Database] = weakref.WeakSet()
"""Databases open in this process, to refuse mixing SQL dialects (see ``Database.open``)."""


class DatabaseUnavailableError(MediaNestError):
    """The database did not answer, or answered with an error (readiness fails)."""

    code = "database_unavailable"


class Database:
    """A hub's database, SQLite (aiosqlite) or PostgreSQL (asyncpg).

    :param url: ``sqlite:///path``, ``sqlite://:memory:``, ``postgres://user:pass@host/db``
        or ``postgresql://...``; see :mod:`medianest.core.db.urls`.
    :param plugin_models: plugin key → its models and migrations; each gets the app label
        equal to its key (``-`` read as ``_``), beside core's app ``core``.
    :raises ConfigurationError: the URL is malformed (unknown scheme, no database name).
    :raises PluginError: a plugin key that cannot be an app label, or incomplete models.

    Lifecycle: :meth:`open` once, :meth:`migrate` when the schema may be behind, then
    :meth:`activate` (or :meth:`enter`/:meth:`exit`) around work that uses models,
    :meth:`close` at shutdown.
    """

    def __init__(
        self, url: str, *, plugin_models: Mapping[str, DatabaseModels] = _NO_PLUGINS
    ) -> None:
        self._url = DatabaseURL.parse(url)
        # tortoise caches compiled statements per connection name for the whole process:
        # naming the connection after the dialect keeps SQLite and PostgreSQL statements apart.
        self._connection_name = self._url.dialect
        self._apps = apps_config(plugin_models, connection=self._connection_name)
        self._plugin_models = dict(plugin_models)
        self._context: TortoiseContext | None = None
        self._opening = asyncio.Lock()

    def __repr__(self) -> str:
        state = "open" if self._context is not None else "closed"
        return f"<Database {self._url.redacted} {state}>"

    @property
    def dialect(self) -> Dialect:
        """``sqlite`` or ``postgres``."""
        return self._url.dialect

    @property
    def redacted_url(self) -> str:
        """The URL with its password replaced by ``***``: the only form to log or show."""
        return self._url.redacted

    @property
    def app_labels(self) -> tuple[str, ...]:
        """``core`` and each plugin's app label, in migration order of declaration."""
        return tuple(self._apps)

    @property
    def is_open(self) -> bool:
        """True between a successful :meth:`open` and :meth:`close`."""
        return self._context is not None

    async def open(self) -> None:
        """Connect and check the database answers (``SELECT 1``); a no-op when already open.

        Creates the directory of a SQLite file when it is missing. SQLite files run in WAL
        mode with a busy timeout, so readers never block the writer.

        :raises ConfigurationError: the directory cannot be created; the server is
            unreachable, refuses the credentials, or has no such database; core's models do
            not load; or a database of the other dialect is open in this process (tortoise-orm
            binds each model's query builder to one SQL dialect per process, so SQLite and
            PostgreSQL databases cannot be open side by side). Messages show the URL with its
            password redacted.
        :raises PluginError: a plugin's models module cannot be imported.
        """
        async with self._opening:
            if self._context is not None:
                return
            for other in list(_open_databases):
                if other.dialect != self.dialect:
                    raise ConfigurationError(
                        f"cannot open {self.dialect} database {self.redacted_url} while "
                        f"{other.dialect} database {other.redacted_url} is open in this "
                        "process (tortoise-orm builds queries for one SQL dialect per process)"
                    )
            _open_databases.add(self)
            try:
                self._context = await self._connect()
            except BaseException:
                _open_databases.discard(self)
                raise
        log.info("database_open", url=self.redacted_url, dialect=self.dialect)

    async def close(self) -> None:
        """Close every connection; safe to call twice or on a database never opened."""
        context, self._context = self._context, None
        if context is None:
            return
        _open_databases.discard(self)
        token = _current_context.set(context)
        try:
            await context.close_connections()
        finally:
            _current_context.reset(token)
        log.info("database_closed", url=self.redacted_url)

    async def ping(self, timeout_seconds: float = 3.0) -> None:
        """Run ``SELECT 1``; return when it answered within ``timeout_seconds``.

        Used by readiness checks.

        :raises DatabaseUnavailableError: closed, an error, or no answer in time.
        """
        if self._context is None:
            raise DatabaseUnavailableError(f"database {self.redacted_url} is not open")
        with self.activate():
            try:
                await asyncio.wait_for(self.connection.execute_query("SELECT 1"), timeout_seconds)
            except TimeoutError as exc:
                raise DatabaseUnavailableError(
                    f"database {self.redacted_url} did not answer within {timeout_seconds:g} s"
                ) from exc
            except Exception as exc:
                raise DatabaseUnavailableError(
                    f"database {self.redacted_url} failed: {self._reason(exc)}"
                ) from exc

    @property
    def connection(self) -> BaseDBAsyncClient:
        """The tortoise client, for raw SQL (``execute_query``) and driver access.

        :raises RuntimeError: the database is not open.
        """
        return self._require_context().db(self._connection_name)

    def enter(self) -> ActivationToken:
        """Make this database current in the calling task until :meth:`exit` with the token.

        Core calls it at the start of a request (same task as the handler) or of a job.

        :raises RuntimeError: the database is not open.
        """
        return _current_context.set(self._require_context())

    @staticmethod
    def exit(token: ActivationToken) -> None:
        """Restore whatever database was current before the :meth:`enter` that gave ``token``."""
        _current_context.reset(token)

    @contextlib.contextmanager
    def activate(self) -> Iterator[Database]:
        """``with db.activate():`` models use this database inside the block (this task only).

        Nests, and is safe to use from many tasks at once.

        :raises RuntimeError: the database is not open.
        """
        token = self.enter()
        try:
            yield self
        finally:
            self.exit(token)

    async def migrate(self, progress: Callable[[str], None] | None = None) -> list[str]:
        """Apply every pending migration of core and the plugins; return ``app.name`` of each.

        Idempotent and cheap when nothing is pending, so safe at every start. Processes
        sharing the database take turns. ``progress`` is called with each migration's
        ``app.name`` as it starts.

        :raises RuntimeError: the database is not open.
        :raises ConfigurationError: a migration failed (it is rolled back) or cannot be loaded.
        """
        with self.activate():
            try:
                return await migrator.apply_migrations(
                    self.connection,
                    self._apps,
                    sqlite_path=self._url.sqlite_path,
                    progress=progress,
                )
            except MediaNestError:
                raise
            except Exception as exc:
                raise ConfigurationError(
                    f"migrating database {self.redacted_url} failed: {self._reason(exc)}"
                ) from exc

    async def pending_migrations(self) -> list[str]:
        """``app.name`` of each migration not applied yet, in the order :meth:`migrate` runs them.

        :raises RuntimeError: the database is not open.
        :raises ConfigurationError: the migration files cannot be loaded.
        """
        with self.activate():
            try:
                return await migrator.pending_migrations(self.connection, self._apps)
            except Exception as exc:
                raise ConfigurationError(
                    f"cannot read the migrations of {', '.join(self._apps)}: {self._reason(exc)}"
                ) from exc

    async def _connect(self) -> TortoiseContext:
        self._import_plugin_models()
        self._prepare_sqlite_directory()
        context = TortoiseContext()
        token = _current_context.set(context)
        try:
            try:
                config = tortoise_config(
                    self._url.connection_config(),
                    self._apps,
                    connection_name=self._connection_name,
                )
                await context.init(config=config)
            except Exception as exc:
                raise ConfigurationError(
                    f"cannot load the database models of {', '.join(self._apps)}: "
                    f"{self._reason(exc)}"
                ) from exc
            try:
                await asyncio.wait_for(
                    context.db(self._connection_name).execute_query("SELECT 1"), _OPEN_TIMEOUT_S
                )
            except Exception as exc:
                raise ConfigurationError(
                    f"cannot connect to database {self.redacted_url}: {self._reason(exc)}"
                ) from exc
        except BaseException:
            try:
                await context.close_connections()
            finally:
                _current_context.reset(token)
            raise
        _current_context.reset(token)
        return context

    def _import_plugin_models(self) -> None:
        for key, models in self._plugin_models.items():
            for module in models.models:
                try:
                    importlib.import_module(module)
                except Exception as exc:
                    raise PluginError(
                        f"cannot import database models module {module!r}: {exc}", plugin=key
                    ) from exc

    def _prepare_sqlite_directory(self) -> None:
        path = self._url.sqlite_path
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the directory {str(path.parent)!r} for database "
                f"{self.redacted_url}: {exc.strerror or exc}"
            ) from exc

    def _require_context(self) -> TortoiseContext:
        if self._context is None:
            raise RuntimeError(f"database {self.redacted_url} is not open")
        return self._context

    def _reason(self, exc: BaseException) -> str:
        text = describe_tls_failure(exc) or str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError) and not str(exc):
            text = "timed out"
        return self._url.scrub(text)
