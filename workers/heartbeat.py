"""Worker heartbeats in Redis: each ARQ worker says it is alive, what it did and what it can
reach; API replicas and ``medianest worker --health-check`` read them.

All heartbeats of a queue live in one Redis hash, ``<queue>:workers``, one JSON field per
worker. A worker that stops cleanly removes its own; one that died is forgotten
:data:`FORGET_AFTER_SECONDS` after its last beat (until then it is reported as silent).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

FORGET_AFTER_SECONDS = 600.0
"""A heartbeat this old is dropped: its worker is taken to be gone for good."""


def heartbeats_key(queue_name: str) -> str:
    """The Redis hash holding the heartbeats of the workers of ``queue_name``."""
    return f"{queue_name}:workers"


def new_worker_id() -> str:
    """``<host>:<pid>:<random>``: unique, and readable in a list of workers."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    """One worker's latest heartbeat.

    ``unreachable`` names the dependencies (``redis``, ``database``) the worker could not
    reach at that beat; it does not take new jobs until they answer again.
    """

    worker_id: str
    host: str
    pid: int
    queue: str
    started_at: datetime
    beat_at: datetime
    jobs_running: int = 0
    jobs_done: int = 0
    jobs_failed: int = 0
    jobs_retried: int = 0
    unreachable: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """The beat as stored in Redis."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["beat_at"] = self.beat_at.isoformat()
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> WorkerBeat:
        """A beat read back from Redis.

        :raises ValueError: the value is not a heartbeat (malformed JSON or fields).
        """
        try:
            data: dict[str, Any] = json.loads(raw)
            data["started_at"] = datetime.fromisoformat(data["started_at"])
            data["beat_at"] = datetime.fromisoformat(data["beat_at"])
            return cls(**data)
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"not a worker heartbeat: {exc}") from exc

    def age_seconds(self, now: datetime) -> float:
        """Seconds since this beat, at ``now``."""
        return max(0.0, (now - self.beat_at).total_seconds())

    def with_beat(self, now: datetime, **counters: Any) -> WorkerBeat:
        """This worker's next beat, at ``now`` with new counters."""
        return replace(self, beat_at=now, **counters)


async def write_beat(redis: Redis, beat: WorkerBeat) -> None:
    """Store ``beat`` as its worker's latest (the hash expires when every worker is gone)."""
    key = heartbeats_key(beat.queue)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, beat.worker_id, beat.to_json())
        pipe.expire(key, int(FORGET_AFTER_SECONDS))
        await pipe.execute()


async def remove_beat(redis: Redis, queue_name: str, worker_id: str) -> None:
    """Forget a worker that stops cleanly."""
    await redis.hdel(heartbeats_key(queue_name), worker_id)  # type: ignore[misc]  # redis-py types its sync and async clients as one


async def read_beats(
    redis: Redis, queue_name: str, now: datetime | None = None
) -> list[WorkerBeat]:
    """The heartbeats of the workers of ``queue_name``, by host and pid.

    Heartbeats older than :data:`FORGET_AFTER_SECONDS`, or not readable, are deleted.

    :raises redis.exceptions.RedisError: Redis cannot be reached.
    """
    now = now or datetime.now(UTC)
    key = heartbeats_key(queue_name)
    forget_before = now - timedelta(seconds=FORGET_AFTER_SECONDS)
    beats: list[WorkerBeat] = []
    gone: list[bytes | str] = []
    for worker_id, raw in (await redis.hgetall(key)).items():  # type: ignore[misc]  # as above
        try:
            beat = WorkerBeat.from_json(raw)
        except ValueError:
            gone.append(worker_id)
            continue
        if beat.beat_at < forget_before:
            gone.append(worker_id)
        else:
            beats.append(beat)
    if gone:
        await redis.hdel(key, *gone)  # type: ignore[misc, arg-type]  # redis-py types its sync and async clients as one
    return sorted(beats, key=lambda beat: (beat.host, beat.pid, beat.worker_id))


def silent(beats: list[WorkerBeat], now: datetime, stale_after: float) -> list[WorkerBeat]:
    """The workers whose last beat is older than ``stale_after`` seconds (stuck or dead)."""
    return [beat for beat in beats if beat.age_seconds(now) > stale_after]


def assess(beats: list[WorkerBeat], now: datetime, stale_after: float) -> tuple[bool, str]:
    """``(ok, detail)`` for the workers of a queue: ok when at least one beats and none is
    silent for longer than ``stale_after`` seconds."""
    quiet = silent(beats, now, stale_after)
    if not beats:
        return False, "no worker heartbeat: no worker is running on this queue"
    if quiet:
        longest = max(beat.age_seconds(now) for beat in quiet)
        return False, (
            f"no worker heartbeat for over {stale_after:g} s from {len(quiet)} of "
            f"{len(beats)} worker(s) (the longest silent for {longest:.0f} s)"
        )
    cut_off = sorted({name for beat in beats for name in beat.unreachable})
    if cut_off:
        return True, f"{len(beats)} worker(s) alive, waiting for {', '.join(cut_off)}"
    return True, f"{len(beats)} worker(s) alive"


async def check_host(
    redis: Redis, queue_name: str, stale_after: float, host: str | None = None
) -> tuple[bool, str]:
    """``(alive, message)``: does a worker on ``host`` (default: this one) beat, its last
    heartbeat at most ``stale_after`` seconds old? For an orchestrator's liveness probe.

    :raises redis.exceptions.RedisError: Redis cannot be reached.
    """
    host = host or socket.gethostname()
    now = datetime.now(UTC)
    here = [beat for beat in await read_beats(redis, queue_name, now) if beat.host == host]
    fresh = [beat for beat in here if beat.age_seconds(now) <= stale_after]
    if fresh:
        beat = min(fresh, key=lambda beat: beat.age_seconds(now))
        waiting = f", waiting for {', '.join(beat.unreachable)}" if beat.unreachable else ""
        return True, (
            f"worker {beat.worker_id} alive: last heartbeat {beat.age_seconds(now):.1f} s ago, "
            f"{beat.jobs_running} job(s) running, {beat.jobs_done} done{waiting}"
        )
    if here:
        age = min(beat.age_seconds(now) for beat in here)
        return False, f"no worker heartbeat on {host} for {age:.0f} s (limit {stale_after:g} s)"
    return False, f"no worker heartbeat on {host} for queue {queue_name}"
