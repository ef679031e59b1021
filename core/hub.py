"""The hub: one running MediaNest, built from settings and plugins.

:func:`build_hub` does the synchronous part (load plugins, validate their settings, collect
providers, jobs, flags, blueprints and models) and fails fast naming the culprit;
:meth:`Hub.start` opens the database, shared state, flags and job queue and runs the plugins'
``startup`` hooks; :meth:`Hub.close` undoes it. Both the web app and ``medianest worker`` run
on a hub. The hub implements the SDK's ``HubContext``: it is what plugins see.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import re
import time
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import structlog
from quart import Blueprint

from medianest.config import Settings
from medianest.core import core_jobs
from medianest.core.auth.local import core_auth_providers
from medianest.core.auth.sessions import SessionManager
from medianest.core.db import Database
from medianest.core.events import EventBuffer
from medianest.core.flags import FlagService
from medianest.core.heap import freeze_startup_heap
from medianest.core.media.reads import MediaReads
from medianest.core.metrics import Metrics
from medianest.core.notifications.center import NotificationCenter
from medianest.core.plugins import PluginHost, PluginInfo, plugin_returned
from medianest.core.registry import ProviderRegistry
from medianest.core.requests import SYSTEM, Locks, RequestService
from medianest.core.requests import reconcile as request_reconcile
from medianest.core.requests.availability import Availability
from medianest.core.requests.marks import IndexedLookup
from medianest.core.search.catalogue import Catalogue
from medianest.core.search.live import LiveSearch, live_search_flags
from medianest.core.search.service import SearchService
from medianest.core.secrets import SecretBox, secret_box_for
from medianest.core.state import StateBackends, open_state
from medianest.core.sync import SyncEngine
from medianest.core.sync import jobs as sync_jobs
from medianest.sdk.errors import (
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    PluginError,
    UpstreamTimeoutError,
)
from medianest.sdk.events import CORE_CHANNELS
from medianest.sdk.flags import FLAG_KEY_PATTERN, Flag
from medianest.sdk.jobs import JOB_NAME_PATTERN, Job, RetryJob
from medianest.sdk.models import DomainEvent, MediaItem, MediaRequest, Notification
from medianest.sdk.persistence import DatabaseModels
from medianest.sdk.providers import PROVIDER_KINDS, SourceCapability
from medianest.sdk.services import Cache, FlagReader, JobHandle, JobQueue, PubSub, RateLimiter
from medianest.workers import ManagedJobQueue, open_job_queue

log = structlog.get_logger(__name__)

T = TypeVar("T")

_CHANNEL = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


class Hub:
    """One MediaNest instance. Build it with :func:`build_hub`."""

    def __init__(self, settings: Settings, host: PluginHost) -> None:
        self.settings = settings
        self.host = host
        self.registry = ProviderRegistry()
        for kind in PROVIDER_KINDS:
            self.registry.add_all(kind, host.collect(f"register_{kind}", hub=self))
        self.registry.add_all("auth_providers", core_auth_providers())
        self.metrics = Metrics()
        self.notifications = NotificationCenter(settings.notifications, self)
        self.events = EventBuffer(
            settings.events,
            lambda: [*self.registry.all("analytics_sinks"), self.notifications.sink],
            self._publish_event,
            on_drop=lambda sink, count: self.metrics.events_dropped.labels(sink).inc(count),
        )
        self.flag_definitions = _check_flags(host.collect("register_flags"))
        self.blueprints = _check_blueprints(host.collect("register_blueprints"))
        self.models = _collect_models(host)
        self.database = Database(settings.effective_database_url, plugin_models=self.models)
        self.sync = SyncEngine(
            settings.sync,
            database=self.database,
            registry=self.registry,
            metrics=self.metrics,
            emit=self.emit,
        )
        self.catalogue = Catalogue(self.database)
        self.live = LiveSearch(
            settings.search, registry=self.registry, metrics=self.metrics, mode=settings.mode
        )
        self.search = SearchService(
            settings.search,
            registry=self.registry,
            catalogue=self.catalogue,
            live=self.live,
            emit=self.emit,
        )
        self.flag_definitions += live_search_flags(self.registry, self.flag_definitions)
        self.requests = RequestService(
            settings.requests,
            database=self.database,
            registry=self.registry,
            emit=self.emit,
            pubsub=lambda: self.pubsub,
            locks=Locks(lambda: self._state.redis if self._state is not None else None),
            find_item=self._find_item,
        )
        self.sync.watch(Availability(self.database, self.requests))
        self.request_marks = IndexedLookup(self.database)
        """What search hits and media details look their request marks up with."""
        self.reconciler = request_reconcile.Reconciler(
            self.database,
            backends=self.requests.backends,
            apply=self.requests.request_changed,
            principal=SYSTEM,
            timeout_seconds=settings.requests.backend_timeout_seconds,
        )
        core: list[tuple[PluginInfo | None, Any]] = [
            (None, job)
            for job in [
                *core_jobs.jobs_for(self.registry),
                *sync_jobs.jobs_for(self.sync),
                *request_reconcile.jobs_for(self.reconciler, settings.requests.reconcile_minutes),
            ]
        ]
        self.job_definitions = [
            _measured(job, self.metrics)
            for job in _check_jobs([*core, *host.collect("register_jobs")])
        ]
        _check_sync_sources(settings, self.registry)
        self._secrets: SecretBox | None = None
        self._state: StateBackends | None = None
        self._sessions: SessionManager | None = None
        self._jobs: ManagedJobQueue | None = None
        self._flags: FlagService | None = None
        self._started_plugins: list[PluginInfo] = []

    # HubContext ----------------------------------------------------------------------------

    @property
    def mode(self) -> Literal["embedded", "scaled"]:
        """``scaled`` with Redis, ``embedded`` without."""
        return self.settings.mode

    @property
    def state(self) -> StateBackends:
        """Cache, rate limiter and pub/sub (after :meth:`start`)."""
        return _started(self._state)

    @property
    def secrets(self) -> SecretBox:
        """Encrypts and decrypts secrets stored at rest, with the hub's secret key."""
        return _started(self._secrets)

    @property
    def sessions(self) -> SessionManager:
        """Sign-in sessions and access tokens (after :meth:`start`)."""
        return _started(self._sessions)

    @property
    def cache(self) -> Cache:
        return self.state.cache

    @property
    def rate_limiter(self) -> RateLimiter:
        return self.state.rate_limiter

    @property
    def pubsub(self) -> PubSub:
        return self.state.pubsub

    @property
    def jobs(self) -> JobQueue:
        return _started(self._jobs)

    @property
    def flags(self) -> FlagReader:
        return _started(self._flags)

    @property
    def flag_service(self) -> FlagService:
        """The runtime flags with their write side (admin and CLI use)."""
        return _started(self._flags)

    def provider(self, provider_id: str) -> Any:
        """The provider registered under ``provider_id`` (media sources first)."""
        return self.registry.find(provider_id)

    async def emit(self, event: DomainEvent) -> None:
        """Buffer ``event`` for analytics sinks and pub/sub subscribers; returns at once.

        Delivery happens in batches in the background (see :mod:`medianest.core.events`); a
        failing sink never reaches the caller.
        """
        self.events.put(event)

    async def notify(self, notification: Notification) -> JobHandle:
        """Route ``notification`` like an event's: each user's preferences, inbox and chosen
        channels, each role through every notifier's shared channel; one delivery job per
        notifier and recipient, retried on failure (see :mod:`medianest.core.notifications`).
        The handle's ``job_id`` names this routing."""
        routing = await self.notifications.notify(notification)
        return JobHandle(job_id=routing, queued=True)

    async def publish(self, channel: str, message: Any) -> None:
        """Publish ``message`` on a plugin's own ``channel`` (core's channels are refused)."""
        if channel in CORE_CHANNELS or not _CHANNEL.match(channel):
            raise InvalidInputError(
                f"cannot publish on {channel!r}: "
                + (
                    "that channel belongs to core"
                    if channel in CORE_CHANNELS
                    else "channel names are lower-case letters, digits, '.', '_' and '-'"
                ),
                field="channel",
            )
        await self.pubsub.publish(channel, message)

    async def request_sync(self, source: str, *, full: bool = False) -> JobHandle:
        """Queue a sync of ``source`` (incremental unless ``full`` or it cannot list changes);
        one per source and kind at a time."""
        media_source = self.sync.source(source)
        if not full and SourceCapability.CHANGES not in media_source.capabilities:
            full = True
        job = sync_jobs.FULL_JOB if full else sync_jobs.INCREMENTAL_JOB
        with self.database.activate():  # jobs run in-process inherit it (embedded mode)
            return await self.jobs.enqueue(
                job, source=source, trigger="plugin", job_id=f"{job}:{source}"
            )

    async def request_changed(self, request: MediaRequest) -> bool:
        """Apply a request backend's news about one of its requests (a webhook); False when
        the hub keeps no such request."""
        return await self.requests.request_changed(request)

    async def _find_item(self, source: str, item_id: str) -> MediaItem | None:
        """An item as the hub shows it: from the catalogue, else asked of its source."""
        entry = await MediaReads(self.database).entry(source, item_id)
        if entry is not None:
            return entry.item
        try:
            media_source = self.registry.get("media_sources", source)
        except NotFoundError:
            return None
        try:
            async with asyncio.timeout(self.settings.requests.backend_timeout_seconds):
                item: MediaItem | None = await media_source.get_item(item_id)
        except NotFoundError:
            return None
        except TimeoutError:
            raise UpstreamTimeoutError(
                f"media source {source} did not answer in time", source=source
            ) from None
        return item

    # lifecycle -------------------------------------------------------------------------------

    async def start(
        self, *, migrate: bool = False, run_jobs: bool | None = None, services_only: bool = False
    ) -> None:
        """Open every resource and run the plugins' ``startup`` hooks.

        :param migrate: apply pending migrations first (embedded ``serve`` does).
        :param run_jobs: run queued jobs in this process; default: in embedded mode only.
        :param services_only: open the database, shared state and flags only (admin commands):
            no job queue, no plugin ``startup`` hooks.
        :raises ConfigurationError: a resource cannot be reached or the schema is behind.
        """
        try:
            self._secrets = await asyncio.to_thread(secret_box_for, self.settings)
            self._state = await open_state(self.settings.redis_url)
            await _reachable("Redis", self._state.ping, self.settings.redis_url)
            self.events.start()
            self._sessions = await asyncio.to_thread(
                SessionManager.for_settings, self.settings, self._state.cache, self._state.pubsub
            )
            await self._sessions.users.start()
            await self.database.open()
            self.database.enter()
            if migrate:
                await self.database.migrate()
            else:
                pending = await self.database.pending_migrations()
                if pending:
                    raise ConfigurationError(
                        f"the database schema is behind ({len(pending)} migrations pending: "
                        f"{', '.join(pending[:5])}); run `medianest db upgrade`"
                    )
            self._flags = FlagService(self.flag_definitions, self.database, self._state.pubsub)
            await self._flags.start()
            self.live.start(cache=self._state.cache, flags=self._flags, pubsub=self._state.pubsub)
            self.sync.start(pubsub=self._state.pubsub, jobs=None)
            if services_only:
                return
            in_process = self.mode == "embedded" if run_jobs is None else run_jobs
            self._jobs = open_job_queue(
                jobs=self.job_definitions,
                hub=self,
                redis_url=None if in_process else self.settings.redis_url,
                max_concurrency=self.settings.jobs.concurrency,
            )
            await self._jobs.start()
            self.sync.start(pubsub=self._state.pubsub, jobs=self._jobs)
            await self.search.start(self._state.pubsub)
            self.notifications.health.start()
            for info in self.host.enabled():
                for result in self.host.call(info, "startup", hub=self):
                    if inspect.isawaitable(result):
                        await _plugin_awaitable(info, "startup", result)
                self._started_plugins.append(info)
            freeze_startup_heap()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Run ``shutdown`` hooks and release every resource; safe to call twice.

        Jobs stop first (a sync in progress is released, to be resumed), so none is left
        calling a provider that is already closed.
        """
        if self._jobs is not None:
            await self._jobs.close()
            self._jobs = None
        await self.notifications.health.close()
        await self.search.close()
        await self.requests.close()
        await self.live.aclose()
        for info in reversed(self._started_plugins):
            try:
                for result in self.host.call(info, "shutdown", hub=self):
                    if inspect.isawaitable(result):
                        await _plugin_awaitable(info, "shutdown", result)
            except Exception as exc:
                log.error("plugin shutdown failed", plugin=info.key, error=str(exc))
        self._started_plugins.clear()
        await self.events.close()  # before sinks and pub/sub close: deliver what is left
        await self.notifications.sink.drain()
        await self._close_providers()
        try:
            if self._sessions is not None:
                await self._sessions.users.close()
            if self._flags is not None:
                await self._flags.close()
                self._flags = None
        finally:
            try:
                await self.database.close()
            finally:
                if self._state is not None:
                    await self._state.close()
                    self._state = None

    async def _publish_event(self, channel: str, message: Any) -> None:
        if self._state is None:
            return  # not started (or stopped): only the sinks get the events
        await self._state.pubsub.publish(channel, message)

    async def _close_providers(self) -> None:
        """Call ``aclose()`` once on every provider that defines it (HTTP clients, pools)."""
        seen: set[int] = set()
        for kind in PROVIDER_KINDS:
            for provider in self.registry.all(kind):
                close = getattr(provider, "aclose", None)
                if close is None or id(provider) in seen:
                    continue
                seen.add(id(provider))
                try:
                    await close()
                except Exception as exc:
                    log.error("provider close failed", provider=provider.id, error=str(exc))


def _measured(job: Job, metrics: Metrics) -> Job:
    """``job`` with its runs counted and timed in the hub's metrics, by outcome."""
    function = job.function

    async def run(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await function(ctx, *args, **kwargs)
            outcome = "ok"
            return result
        except RetryJob:
            outcome = "retry"
            raise
        finally:
            metrics.jobs.labels(job.name, outcome).inc()
            metrics.job_duration.labels(job.name).observe(time.perf_counter() - started)

    run.__qualname__ = run.__name__ = f"{job.name}.run"
    return dataclasses.replace(job, function=run)


def build_hub(
    settings: Settings,
    *,
    plugins: Mapping[str, object] | None = None,
    autoload: bool = True,
) -> Hub:
    """Load plugins and build a hub (not started).

    :param plugins: plugin objects to register directly, by key (besides installed ones).
    :param autoload: discover installed plugins through their entry points.
    :raises ConfigurationError: naming the plugin or setting at fault.
    """
    return Hub(settings, PluginHost(settings, extra=plugins, autoload=autoload))


def _started(value: T | None) -> T:
    if value is None:
        raise RuntimeError("the hub is not started (await hub.start() first)")
    return value


async def _reachable(what: str, ping: Any, url: str | None) -> None:
    try:
        await ping()
    except Exception as exc:
        raise ConfigurationError(
            f"cannot reach {what} at {_redact(url)}: {type(exc).__name__}: {exc}"
        ) from exc


def _redact(url: str | None) -> str:
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url or "")


async def _plugin_awaitable(info: PluginInfo, hook: str, awaitable: Any) -> None:
    try:
        await awaitable
    except Exception as exc:
        raise PluginError(
            f"plugin {info.origin} failed in {hook}: {type(exc).__name__}: {exc}",
            plugin=info.key,
        ) from exc


def _check_jobs(provided: list[tuple[PluginInfo | None, Any]]) -> list[Job]:
    jobs: dict[str, tuple[PluginInfo | None, Job]] = {}
    for info, job in provided:
        owner = info.origin if info else "core"
        prefix = info.key if info else "core"
        if info is not None:
            job = plugin_returned(info, "register_jobs", job, Job, "medianest.sdk.Job")
        if not re.match(JOB_NAME_PATTERN, job.name) or (
            info is not None and not job.name.startswith(f"{prefix}.")
        ):
            raise PluginError(
                f"plugin {owner} registers a job named {job.name!r}; job names "
                f"look like '{prefix}.<job>'",
                plugin=prefix,
            )
        if not inspect.iscoroutinefunction(job.function):
            raise PluginError(
                f"job {job.name!r} of {owner} is not an async function", plugin=prefix
            )
        if job.name in jobs:
            first = jobs[job.name][0]
            raise PluginError(
                f"duplicate job {job.name!r}: registered by "
                f"{first.origin if first else 'core'} and by {owner}",
                plugin=prefix,
            )
        jobs[job.name] = (info, job)
    return [job for _, job in jobs.values()]


def _check_sync_sources(settings: Settings, registry: ProviderRegistry) -> None:
    known = {source.id for source in registry.all("media_sources")}
    unknown = sorted(set(settings.sync.sources) - known)
    if unknown:
        raise ConfigurationError(
            f"sync.sources names {', '.join(unknown)}, which is not a media source of this hub "
            f"(there are: {', '.join(sorted(known)) or 'none'})"
        )


def _check_flags(provided: list[tuple[PluginInfo, Any]]) -> list[Flag]:
    flags: dict[str, PluginInfo] = {}
    result = []
    for info, flag in provided:
        flag = plugin_returned(info, "register_flags", flag, Flag, "medianest.sdk.Flag")
        if not re.match(FLAG_KEY_PATTERN, flag.key) or not flag.key.startswith(f"{info.key}."):
            raise PluginError(
                f"plugin {info.origin} registers a flag {flag.key!r}; flag keys "
                f"look like '{info.key}.<feature>'",
                plugin=info.key,
            )
        if flag.key in flags:
            raise PluginError(
                f"duplicate flag {flag.key!r} registered by plugin {info.origin}", plugin=info.key
            )
        flags[flag.key] = info
        result.append(flag)
    return result


def _check_blueprints(provided: list[tuple[PluginInfo, Any]]) -> list[tuple[str, Blueprint]]:
    return [
        (info.key, plugin_returned(info, "register_blueprints", bp, Blueprint, "a quart.Blueprint"))
        for info, bp in provided
    ]


def _collect_models(host: PluginHost) -> dict[str, DatabaseModels]:
    models: dict[str, DatabaseModels] = {}
    for info in host.enabled():
        for result in host.call(info, "register_models"):
            if result is None:
                continue
            models[info.key] = plugin_returned(
                info, "register_models", result, DatabaseModels, "medianest.sdk.DatabaseModels"
            )
    return models
