"""An ARQ worker that outlives outages of Redis and of what its jobs need, and beats.

ARQ 0.28 lets a Redis error escape its poll loop, which ends the worker. Here every Redis
call of the loop and of a job's bookkeeping waits the outage out instead (see
:class:`~medianest.workers.outages.Outages`), and no new job is taken while a dependency is
down. A job whose try failed while a dependency was down runs again once it is back, and
that try does not count against the job's ``max_tries``.

A heartbeat (see :mod:`medianest.workers.heartbeat`) is written on its own timer, so a
worker waiting out a database outage still shows as alive; one whose event loop is stuck
does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from arq.constants import in_progress_key_prefix, retry_key_prefix
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import WatchError

from medianest.core.state.redis import CONNECTION_ERRORS
from medianest.workers.attempt import describe
from medianest.workers.heartbeat import WorkerBeat, new_worker_id, remove_beat, write_beat
from medianest.workers.outages import Outages, Probe

logger = structlog.get_logger(__name__)

T = TypeVar("T")

DEFAULT_HEARTBEAT_SECONDS = 10.0


class ResilientWorker(Worker):
    """An ARQ :class:`~arq.worker.Worker` that waits out outages and writes a heartbeat.

    Takes ARQ's keyword arguments, plus:

    :param dependencies: name → probe of what the jobs need besides Redis (``database``).
    :param heartbeat_seconds: how often the heartbeat is written (and dependencies probed).
    """

    def __init__(
        self,
        *args: Any,
        dependencies: Mapping[str, Probe] | None = None,
        heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.outages = Outages({"redis": self._ping_redis, **(dependencies or {})})
        self.heartbeat_seconds = heartbeat_seconds
        now = datetime.now(UTC)
        self.beat = WorkerBeat(
            worker_id=new_worker_id(),
            host=socket.gethostname(),
            pid=os.getpid(),
            queue=self.queue_name,
            started_at=now,
            beat_at=now,
        )
        self.ctx["worker"] = self
        self.stopping = False
        """Set once the worker was asked to stop: a try cut short then is given back."""

    def handle_sig_wait_for_completion(self, signum: Any) -> None:
        """SIGTERM/SIGINT with a grace period: take no new job, let the running ones finish
        for ``job_completion_wait`` seconds, then cut them short (they go back on the queue)."""
        self.stopping = True
        logger.info("worker stopping: finishing running jobs", jobs=len(self.tasks))
        super().handle_sig_wait_for_completion(signum)

    def handle_sig(self, signum: Any) -> None:
        self.stopping = True
        super().handle_sig(signum)

    async def _ping_redis(self) -> None:
        if self._pool is None:
            raise ConnectionError("the Redis pool is not open")
        await self.pool.ping()

    async def main(self) -> None:
        """ARQ's main loop, with the heartbeat running beside it."""
        beating = asyncio.create_task(self._beat_forever(), name="worker heartbeat")
        try:
            await super().main()
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)

    async def _poll_iteration(self) -> None:
        await self.outages.wait_until_up()
        try:
            await super()._poll_iteration()
        except CONNECTION_ERRORS as exc:
            self.outages.lost("redis", exc)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            try:
                await super().start_jobs(job_ids)
            except WatchError as exc:
                # redis-py reports a connection lost while a job's claim is watched as a
                # WatchError raised while handling the ConnectionError: an outage, not a race.
                if not isinstance(exc.__context__, CONNECTION_ERRORS):
                    raise
                raise RedisConnectionError(f"Redis connection lost: {exc}") from exc
        except CONNECTION_ERRORS:
            # Redis failed while a job was being claimed: ARQ had counted that job as
            # running and holds its slot; it never started, so give the slot back.
            self.job_counter -= 1
            self.sem.release()
            raise

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        except CONNECTION_ERRORS as exc:
            # Finishing is retried until recorded (below), so Redis failed before the job
            # ran: release its claim, and the next poll after the outage runs it.
            self.outages.lost("redis", exc)
            await self.until_recorded(lambda: self.pool.delete(in_progress_key_prefix + job_id))

    async def finish_job(self, *args: Any, **kwargs: Any) -> None:
        finish = super().finish_job
        await self.until_recorded(lambda: finish(*args, **kwargs))

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        finish = super().finish_failed_job
        await self.until_recorded(lambda: finish(job_id, result_data))

    async def uncount_try(self, job_id: str) -> None:
        """Take back the try ARQ counted for ``job_id``: it was lost to an outage."""
        await self.until_recorded(lambda: self.pool.decr(retry_key_prefix + job_id))

    async def until_recorded(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run the Redis ``operation``, again after each Redis outage, until it succeeds.

        :raises ConnectionError: the worker stops while Redis is still unreachable.
        """
        while True:
            try:
                return await operation()
            except CONNECTION_ERRORS as exc:
                self.outages.lost("redis", exc)
                await self.outages.wait_until_up()

    async def _beat_forever(self) -> None:
        while True:
            if "hub" in self.ctx:
                unreachable = await self.outages.unreachable()
                self.beat = self.beat.with_beat(
                    datetime.now(UTC),
                    jobs_running=sum(not task.done() for task in self.tasks.values()),
                    jobs_done=self.jobs_complete,
                    jobs_failed=self.jobs_failed,
                    jobs_retried=self.jobs_retried,
                    unreachable=unreachable,
                )
                if "redis" not in unreachable:
                    try:
                        await write_beat(self.pool, self.beat)
                    except CONNECTION_ERRORS as exc:
                        self.outages.lost("redis", exc)
                    except Exception as exc:
                        logger.warning("worker heartbeat not written", error=describe(exc))
            await asyncio.sleep(self.heartbeat_seconds)

    async def close(self) -> None:
        """Stop: remove the heartbeat, run ``on_shutdown`` and close the pool, even when
        Redis is unreachable by then."""
        self.outages.closing = True
        if self._pool is None:
            return
        with contextlib.suppress(*CONNECTION_ERRORS):
            await remove_beat(self.pool, self.queue_name, self.beat.worker_id)
        try:
            await super().close()
        except CONNECTION_ERRORS as exc:
            logger.warning("worker stopped while Redis was unreachable", error=str(exc))
            if self.on_shutdown is not None:
                await self.on_shutdown(self.ctx)
            with contextlib.suppress(*CONNECTION_ERRORS):
                await self.pool.close(close_connection_pool=True)
            self._pool = None
