"""What a worker depends on (Redis, the database), whether each answers, and waiting one out.

An outage is logged once when it starts and once when it ends, however many polls, jobs
and heartbeats run into it in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog

from medianest.workers.attempt import describe
from medianest.workers.definitions import RetryPolicy

logger = structlog.get_logger(__name__)

Probe = Callable[[], Awaitable[object]]
"""``async def probe() -> Any``: returns when the dependency answers, raises when it does not."""

PROBE_TIMEOUT_SECONDS = 3.0
OUTAGE_BACKOFF = RetryPolicy(base_seconds=0.25, max_seconds=5.0)
"""Waits between probes of a dependency that is down: 0.25 s, 0.5 s, 1 s, ... at most 5 s."""


@dataclass(frozen=True, slots=True)
class Outage:
    """A dependency that stopped answering: since when (``time.monotonic()``) and why."""

    since: float
    error: str


class Outages:
    """The reachability of a worker's dependencies, probed on demand.

    :param probes: dependency name (``redis``, ``database``) → its probe.
    :param policy: the back-off between probes while one is down.
    :param probe_timeout: a probe that takes longer counts as down.
    """

    def __init__(
        self,
        probes: Mapping[str, Probe],
        *,
        policy: RetryPolicy = OUTAGE_BACKOFF,
        probe_timeout: float = PROBE_TIMEOUT_SECONDS,
    ) -> None:
        self._probes = dict(probes)
        self._policy = policy
        self._timeout = probe_timeout
        self._down: dict[str, Outage] = {}
        self._all_up = asyncio.Event()
        self._all_up.set()
        self.closing = False
        """Set when the worker stops: waits give up instead of outlasting the process."""

    @property
    def names(self) -> tuple[str, ...]:
        """Every dependency watched."""
        return tuple(self._probes)

    def lost(self, name: str, error: BaseException | str) -> None:
        """Record that ``name`` failed; logs a warning only when it was thought up."""
        if name in self._down:
            return
        reason = error if isinstance(error, str) else describe(error)
        self._down[name] = Outage(since=time.monotonic(), error=reason)
        self._all_up.clear()
        logger.warning("worker lost a dependency, waiting for it", dependency=name, error=reason)

    def restored(self, name: str) -> None:
        """Record that ``name`` answers; logs once when it was down."""
        outage = self._down.pop(name, None)
        if not self._down:
            self._all_up.set()
        if outage is not None:
            logger.info(
                "worker dependency reachable again",
                dependency=name,
                down_seconds=round(time.monotonic() - outage.since, 1),
            )

    async def probe(self, name: str) -> bool:
        """Probe ``name`` now, record the result and return whether it answered."""
        try:
            await asyncio.wait_for(self._probes[name](), self._timeout)
        except Exception as exc:
            self.lost(name, exc)
            return False
        self.restored(name)
        return True

    async def probe_all(self) -> dict[str, bool]:
        """Probe every dependency concurrently; name → whether it answered."""
        names = self.names
        answers = await asyncio.gather(*(self.probe(name) for name in names))
        return dict(zip(names, answers, strict=True))

    async def unreachable(self) -> list[str]:
        """The dependencies that do not answer now (each probed once)."""
        return [name for name, ok in (await self.probe_all()).items() if not ok]

    async def wait_until_up(self) -> None:
        """Return once every dependency known to be down answers again, probing each with
        back-off (or as soon as another probe finds them back); immediately when none is down.

        :raises ConnectionError: the worker is stopping while one is still down.
        """
        attempt = 1
        while self._down:
            if self.closing:
                raise ConnectionError(f"stopping while {', '.join(self._down)} is unreachable")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_up.wait(), self._policy.delay(attempt))
            attempt += 1
            await asyncio.gather(*(self.probe(name) for name in list(self._down)))
