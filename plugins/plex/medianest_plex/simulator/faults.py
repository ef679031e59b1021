"""Fault injection for the simulated plex.tv and PMS routes (never the ``/__sim`` control API).

A :class:`FaultRule` matches requests by path pattern (``fnmatch`` glob such as
``/library/sections/*/all``, or ``all``/``*`` for every route) and optionally by method, and
does one thing:

``latency``     sleep ``latency_ms`` before answering (adds up across matching rules);
``error``       answer ``status`` (default 500) instead of the real response;
``rate_limit``  answer 429 with ``Retry-After: retry_after``;
``hang``        do not answer until the rule is cleared (or ``hang_seconds`` pass, then answer
                normally);
``malformed``   answer 200 with the real body cut in half (invalid JSON or XML).

``times`` limits a rule to the next N requests it fires on (then it expires), which keeps
tests deterministic; ``rate`` (0-1) makes it fire on a fraction of requests, drawn from a
generator seeded by ``seed`` so the sequence is reproducible.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from medianest_plex.simulator.query import BadRequest


class FaultMode(StrEnum):
    """What a fault rule does to a matching request."""

    LATENCY = "latency"
    ERROR = "error"
    RATE_LIMIT = "rate_limit"
    HANG = "hang"
    MALFORMED = "malformed"


@dataclass
class FaultRule:
    """One fault; see the module docstring for the meaning of each field."""

    id: int
    mode: FaultMode
    path: str = "all"
    method: str | None = None
    times: int | None = None
    rate: float = 1.0
    latency_ms: int = 0
    status: int = 500
    retry_after: int = 1
    hang_seconds: float | None = None
    seed: int = 0
    fired: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 - reproducible fault sequence

    @property
    def expired(self) -> bool:
        """A ``times``-limited rule that has fired its last time."""
        return self.times is not None and self.fired >= self.times

    def matches(self, path: str, method: str) -> bool:
        """Whether the rule applies to a request for ``path`` with ``method``."""
        if self.expired:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path in ("all", "*") or fnmatch.fnmatchcase(path, self.path)

    def fire(self) -> bool:
        """Roll the rule's rate; counts and returns ``True`` when it takes effect."""
        if self.rate < 1.0 and self._rng.random() >= self.rate:
            return False
        self.fired += 1
        return True

    def describe(self) -> dict[str, Any]:
        """JSON description (what the control API returns)."""
        return {
            "id": self.id,
            "mode": self.mode.value,
            "path": self.path,
            "method": self.method,
            "times": self.times,
            "rate": self.rate,
            "latency_ms": self.latency_ms,
            "status": self.status,
            "retry_after": self.retry_after,
            "hang_seconds": self.hang_seconds,
            "seed": self.seed,
            "fired": self.fired,
        }


@dataclass
class FaultDecision:
    """What to do with one request, as decided by :meth:`FaultInjector.decide`."""

    delay_ms: int = 0
    hang: FaultRule | None = None
    reject: FaultRule | None = None
    malformed: bool = False


def _number(body: Mapping[str, Any], name: str, kind: type, low: float, high: float) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"fault field {name} must be a number")
    if kind is int and not float(value).is_integer():
        raise BadRequest(f"fault field {name} must be a whole number")
    if not low <= value <= high:
        raise BadRequest(f"fault field {name} must be between {low:g} and {high:g}")
    return kind(value)


class FaultInjector:
    """The active fault rules of a world, shared by all its apps."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._next_id = 1
        self._release = asyncio.Event()

    def add(self, mode: FaultMode | str, **options: Any) -> FaultRule:
        """Add a rule; ``options`` are :class:`FaultRule` fields. Returns the rule.

        Raises :class:`BadRequest` for an unknown mode or option or an out-of-range value.
        """
        return self.rule_from_json({"mode": str(mode), **options})

    def rule_from_json(self, body: Mapping[str, Any]) -> FaultRule:
        """Validate a control-API fault description and add it; :class:`BadRequest` if bad."""
        known = {
            "mode",
            "path",
            "method",
            "times",
            "rate",
            "latency_ms",
            "status",
            "retry_after",
            "hang_seconds",
            "seed",
        }
        unknown = set(body) - known
        if unknown:
            raise BadRequest(f"unknown fault field {sorted(unknown)[0]!r}")
        try:
            mode = FaultMode(str(body.get("mode")))
        except ValueError:
            modes = ", ".join(m.value for m in FaultMode)
            raise BadRequest(f"fault mode must be one of {modes}") from None
        path = body.get("path", "all")
        method = body.get("method")
        if not isinstance(path, str) or not path:
            raise BadRequest("fault field path must be a non-empty string")
        if method is not None and not isinstance(method, str):
            raise BadRequest("fault field method must be a string")
        seed = _number(body, "seed", int, -(2**62), 2**62)
        rule = FaultRule(
            id=self._next_id,
            mode=mode,
            path=path,
            method=method,
            times=_number(body, "times", int, 1, 10**9),
            rate=_number(body, "rate", float, 0.0, 1.0) if "rate" in body else 1.0,
            latency_ms=_number(body, "latency_ms", int, 0, 600_000) or 0,
            status=_number(body, "status", int, 400, 599) or 500,
            retry_after=_number(body, "retry_after", int, 0, 86_400) or 1,
            hang_seconds=_number(body, "hang_seconds", float, 0.0, 86_400.0),
            seed=seed if seed is not None else 0,
        )
        if mode == FaultMode.LATENCY and rule.latency_ms == 0:
            raise BadRequest("a latency fault needs latency_ms > 0")
        self._next_id += 1
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        """Drop one rule (releasing requests it holds); ``False`` if there was none."""
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        if len(self.rules) != before:
            self.release_hangs()
            return True
        return False

    def clear(self) -> None:
        """Drop every rule and release every hanging request."""
        self.rules.clear()
        self.release_hangs()

    def release_hangs(self) -> None:
        """Wake requests held by ``hang`` rules whose rule is gone (or all, on clear)."""
        self._release.set()
        self._release = asyncio.Event()

    def decide(self, path: str, method: str) -> FaultDecision:
        """Apply matching rules to one request and say what to do with it."""
        decision = FaultDecision()
        for rule in list(self.rules):
            if not rule.matches(path, method):
                continue
            if rule.mode == FaultMode.LATENCY:
                if rule.fire():
                    decision.delay_ms += rule.latency_ms
            elif rule.mode == FaultMode.MALFORMED:
                if not decision.malformed and rule.fire():
                    decision.malformed = True
            elif decision.hang is None and decision.reject is None and rule.fire():
                if rule.mode == FaultMode.HANG:
                    decision.hang = rule
                else:
                    decision.reject = rule
        return decision

    async def hold(self, rule: FaultRule) -> None:
        """Wait while ``rule`` is active (until cleared, or ``hang_seconds``)."""
        while any(r is rule for r in self.rules):
            release = self._release
            try:
                await asyncio.wait_for(release.wait(), timeout=rule.hang_seconds)
            except TimeoutError:
                return
            if rule.hang_seconds is not None:
                return
