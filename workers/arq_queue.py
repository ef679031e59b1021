"""Enqueueing jobs for ARQ workers (scaled mode).

Named ``arq_queue`` so that ``import arq`` inside this package still means the library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import SerializationError

from medianest.core import tracing
from medianest.core.state.errors import StateUnavailableError
from medianest.core.state.redis import CONNECTION_ERRORS, close_client
from medianest.core.state.redis_url import RedisTarget
from medianest.sdk.jobs import Job
from medianest.sdk.services import JobHandle
from medianest.workers.definitions import checked_arguments, index_jobs, lookup, new_job_id

DEFAULT_QUEUE_NAME = "medianest:jobs"
"""The ARQ queue (a Redis sorted set) API replicas push to and workers pull from."""


class ArqJobQueue:
    """A :class:`~medianest.sdk.services.JobQueue` that hands jobs to ARQ workers on Redis.

    :param redis: where to connect (the pool is opened by :meth:`start` and closed by
        :meth:`close`), or an open ``ArqRedis`` pool that stays the caller's to close.
    :param jobs: every job the hub registered; only their names are used here.
    :param queue_name: must match the workers' (see ``build_worker_settings``).
    :raises ConfigurationError: a job is registered wrongly.
    """

    def __init__(
        self,
        redis: RedisSettings | ArqRedis,
        jobs: Sequence[Job],
        *,
        queue_name: str = DEFAULT_QUEUE_NAME,
    ) -> None:
        self._jobs = index_jobs(jobs)
        self._queue_name = queue_name
        self._settings = redis if isinstance(redis, RedisSettings) else None
        self._pool: ArqRedis | None = None if isinstance(redis, RedisSettings) else redis

    async def start(self) -> None:
        """Open the Redis pool when given settings (retrying as ``RedisSettings`` says).

        :raises StateUnavailableError: Redis cannot be reached.
        """
        if self._pool is not None or self._settings is None:
            return
        try:
            self._pool = await create_pool(self._settings, default_queue_name=self._queue_name)
        except CONNECTION_ERRORS as exc:
            raise StateUnavailableError(
                f"Redis for the job queue at {self._settings.host}:{self._settings.port} "
                f"is unreachable: {exc}"
            ) from exc

    async def enqueue(
        self,
        name: str,
        /,
        *args: Any,
        job_id: str | None = None,
        defer_seconds: float | None = None,
        **kwargs: Any,
    ) -> JobHandle:
        """Queue the registered job ``name``; a ``job_id`` queued or running is not queued twice.

        :raises NotFoundError: no job of that name is registered.
        :raises TypeError: an argument cannot be pickled.
        :raises ValueError: a keyword argument starts with ``_``.
        :raises StateUnavailableError: Redis cannot be reached.
        :raises RuntimeError: the queue is not started or is closed.
        """
        lookup(self._jobs, name)
        checked_arguments(name, args, kwargs)
        if self._pool is None:
            raise RuntimeError("job queue is not started (or already closed)")
        job_id = job_id or new_job_id()
        trace_context = tracing.inject_context()
        if trace_context:  # the worker continues this trace (see TRACE_CONTEXT_KWARG)
            kwargs[tracing.TRACE_CONTEXT_KWARG] = trace_context
        try:
            job = await self._pool.enqueue_job(
                name,
                *args,
                _job_id=job_id,
                _queue_name=self._queue_name,
                _defer_by=defer_seconds,
                **kwargs,
            )
        except SerializationError as exc:
            raise TypeError(f"job {name!r}: arguments must be picklable: {exc}") from exc
        except CONNECTION_ERRORS as exc:
            raise StateUnavailableError(f"could not enqueue job {name!r}: {exc}") from exc
        return JobHandle(job_id=job_id, queued=job is not None)

    async def close(self) -> None:
        """Close the pool this queue opened (not one it was given). Idempotent."""
        if self._settings is not None and self._pool is not None:
            await close_client(self._pool)
        self._pool = None


def redis_settings(redis_url: str) -> RedisSettings:
    """ARQ's connection settings for ``redis_url``: TLS with its ``ssl_*`` options, or the
    master behind Redis Sentinel (see :mod:`medianest.core.state.redis_url`).

    :raises ConfigurationError: the URL is not valid.
    """
    target = RedisTarget.parse(redis_url)
    if not target.uses_sentinel:
        settings = RedisSettings.from_dsn(redis_url.split("?", 1)[0])
        tls = target.connection_options()
        settings.ssl_ca_certs = tls.get("ssl_ca_certs")
        settings.ssl_certfile = tls.get("ssl_certfile")
        settings.ssl_keyfile = tls.get("ssl_keyfile")
        settings.ssl_cert_reqs = tls.get("ssl_cert_reqs", "required")
        settings.ssl_check_hostname = bool(tls.get("ssl_check_hostname", False))
        return settings
    assert target.master is not None
    return RedisSettings(
        host=list(target.sentinels),
        sentinel=True,
        sentinel_master=target.master,
        database=target.database,
        username=target.username,
        password=target.password,
        ssl=target.tls,
        conn_timeout=2,
    )
