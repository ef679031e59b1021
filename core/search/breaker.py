"""A circuit breaker per live source: stop asking a source that keeps failing, try it again
later with a single call.

States:

- **closed**: every search is let through. Each failure (an error or a timeout) adds to a
  count of failures in a row; a success resets it. ``failures`` in a row open the circuit.
- **open**: searches are not let through (the source is *skipped*) for ``reset_seconds``.
- **half open**: the wait is over; exactly one trial call is let through at a time. Its
  success closes the circuit, its failure opens it again for another ``reset_seconds``. A
  trial that ends without a verdict (cancelled) frees the slot for the next caller.

Breakers live in the memory of one process: **each replica keeps its own**. A replica that
finds a source failing stops asking it without telling the others, and each replica tries
the source again on its own schedule. That is deliberate: no shared state to reach on the hot
path, and a source only one replica cannot reach (its network, say) is not cut off for all.

Time is read from an injectable monotonic ``clock`` (seconds), so tests can move it; the
wall-clock times shown in :class:`CircuitView` are derived from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

Clock = Callable[[], float]
"""Seconds from an arbitrary start that never go backwards (``time.monotonic``)."""


class CircuitState(StrEnum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class CircuitView:
    """A breaker as health checks and admins see it (a snapshot, read-only).

    :param state: ``half_open`` as soon as the wait is over, even before a trial started.
    :param failures: failures in a row (the one that opened the circuit included).
    :param opened_at: when the circuit last opened (UTC); ``None`` while closed.
    :param retry_at: when a trial call is (or was) allowed (UTC); ``None`` while closed.
    :param retry_in: seconds until then, never negative; ``None`` while closed.
    :param last_error: what the latest failure was, safe to show; ``None`` once closed again.
    """

    source: str
    state: CircuitState
    failures: int
    threshold: int
    opened_at: datetime | None
    retry_at: datetime | None
    retry_in: float | None
    last_error: str | None

    def describe(self) -> str:
        """One line for people: ``search circuit open after 5 failures (last: ...); next try
        in 12 s``."""
        if self.state is CircuitState.CLOSED:
            if self.failures:
                return f"search circuit closed ({self.failures} of {self.threshold} failures)"
            return "search circuit closed"
        last = f" (last: {self.last_error})" if self.last_error else ""
        plural = "failure" if self.failures == 1 else "failures"
        if self.state is CircuitState.OPEN:
            wait = max(1, round(self.retry_in or 0))
            return f"search circuit open after {self.failures} {plural}{last}; next try in {wait} s"
        return f"search circuit half open after {self.failures} {plural}{last}; trying again"


class Permit:
    """Leave to make one call to a source; settle it exactly once with :meth:`succeeded`,
    :meth:`failed` or :meth:`released` (later calls are ignored)."""

    __slots__ = ("_breaker", "_settled", "trial")

    def __init__(self, breaker: CircuitBreaker, *, trial: bool) -> None:
        self._breaker = breaker
        self._settled = False
        self.trial = trial
        """Whether this is the one trial call of a half-open circuit."""

    def succeeded(self) -> None:
        """The source answered."""
        if not self._settled:
            self._settled = True
            self._breaker._succeeded()

    def failed(self, error: str) -> None:
        """The call failed (an error or a timeout; ``error`` says which, safe to show)."""
        if not self._settled:
            self._settled = True
            self._breaker._failed(error, trial=self.trial)

    def released(self) -> None:
        """The call ended without a verdict (it was cancelled)."""
        if not self._settled:
            self._settled = True
            if self.trial:
                self._breaker._release_trial()


class CircuitBreaker:
    """The breaker of one source.

    Callers ask :meth:`acquire` for a :class:`Permit` before calling the source and settle
    it when the call ends.

    :param source: the source id, for views and the callback.
    :param failures: failures in a row that open the circuit (at least 1).
    :param reset_seconds: how long an open circuit waits before a trial call.
    :param clock: monotonic seconds; ``time.monotonic`` unless a test moves time itself.
    :param on_change: called with ``True`` when the circuit opens and ``False`` when it
        closes again (the hub sets its ``circuit_open`` gauge with it).
    """

    def __init__(
        self,
        source: str,
        *,
        failures: int,
        reset_seconds: float,
        clock: Clock = time.monotonic,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        if failures < 1:
            raise ValueError("failures must be at least 1")
        if reset_seconds <= 0:
            raise ValueError("reset_seconds must be positive")
        self.source = source
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at: float | None = None
        self._last_error: str | None = None
        self._trial = False

    # reading -----------------------------------------------------------------------------------

    @property
    def state(self) -> CircuitState:
        """The state now: an open circuit whose wait is over reads ``half_open``."""
        if self._state is CircuitState.OPEN and self._due():
            return CircuitState.HALF_OPEN
        return self._state

    @property
    def trial_running(self) -> bool:
        """Whether a trial call is under way (half open only)."""
        return self._trial

    def view(self) -> CircuitView:
        """A snapshot for health checks and the plugins endpoint."""
        now = self._clock()
        opened_at = retry_at = None
        retry_in = None
        if self._state is not CircuitState.CLOSED and self._opened_at is not None:
            wall_now = datetime.now(UTC)
            opened_at = wall_now - timedelta(seconds=now - self._opened_at)
            retry_at = opened_at + timedelta(seconds=self.reset_seconds)
            retry_in = max(0.0, self._opened_at + self.reset_seconds - now)
        return CircuitView(
            source=self.source,
            state=self.state,
            failures=self._failures,
            threshold=self.threshold,
            opened_at=opened_at,
            retry_at=retry_at,
            retry_in=retry_in,
            last_error=self._last_error,
        )

    def refusal(self) -> str:
        """Why :meth:`acquire` would refuse now, for a skipped search's detail."""
        view = self.view()
        if view.state is CircuitState.HALF_OPEN and self._trial:
            return f"{view.describe()}: a trial search is under way"
        return view.describe()

    # calling -----------------------------------------------------------------------------------

    def acquire(self) -> Permit | None:
        """Leave to call the source now, or ``None``.

        Closed: always. Open: not until ``reset_seconds`` have passed; then the circuit turns
        half open and this caller gets the trial. Half open: only when no trial is running.
        """
        if self._state is CircuitState.CLOSED:
            return Permit(self, trial=False)
        if self._state is CircuitState.OPEN:
            if not self._due():
                return None
            self._state = CircuitState.HALF_OPEN
        if self._trial:
            return None
        self._trial = True
        return Permit(self, trial=True)

    # internals ---------------------------------------------------------------------------------

    def _succeeded(self) -> None:
        """Any call that answered closes the circuit and forgets the failures."""
        was_closed = self._state is CircuitState.CLOSED
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = None
        self._last_error = None
        self._trial = False
        if not was_closed:
            self._changed(False)

    def _failed(self, error: str, *, trial: bool) -> None:
        """Count a failure. In a closed circuit, the one reaching the threshold opens it; a
        failed trial opens it again. A call that began before the circuit opened and fails
        after is only counted: it does not restart the wait."""
        self._failures += 1
        self._last_error = error
        if trial:
            self._trial = False
            self._open()
        elif self._state is CircuitState.CLOSED and self._failures >= self.threshold:
            self._open()

    def _release_trial(self) -> None:
        self._trial = False

    def _open(self) -> None:
        was_closed = self._state is CircuitState.CLOSED
        self._state = CircuitState.OPEN
        self._opened_at = self._clock()
        if was_closed:
            self._changed(True)

    def _due(self) -> bool:
        return self._opened_at is not None and self._clock() >= self._opened_at + self.reset_seconds

    def _changed(self, opened: bool) -> None:
        if self._on_change is not None:
            self._on_change(opened)
