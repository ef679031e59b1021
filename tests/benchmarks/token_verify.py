"""``token_verify``: what checking a signed-in request costs.

In-process, microseconds per call of each step the request guard takes for a bearer access
token: verifying the JWT (HS256 signature, issuer, audience, times), the revoked-session check
in the shared cache (in memory, and on Redis when one answers at ``MEDIANEST_TEST_REDIS_URL``),
and the whole of it (embedded hub, SQLite) with the session and its user kept from a recent
request, as nearly every request finds them, and with both read from the database (one
query), as the first request after a change or after two seconds does.

Over HTTP, on one ``medianest serve`` (1 worker, embedded, rate limits off), the request rate
of ``GET /api/v1/me`` with a bearer token against ``GET /health/live`` (public, no check), each
under the same load from a separate generator process: their difference is the per-request
cost of authentication plus the user lookup ``/me`` answers with.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

from medianest.config import load_settings
from medianest.core.auth.sessions import REVOKED_PREFIX
from medianest.core.auth.tokens import AccessTokens
from medianest.core.db.models import User
from medianest.core.hub import build_hub
from medianest.core.state.memory import MemoryCache
from medianest.core.state.redis import RedisCache, connect
from medianest.sdk.services import Cache
from tests.benchmarks.hub_server import ServedHub, serve_hub, wait_ready
from tests.benchmarks.load import LoadSpec, Target, run_load
from tests.benchmarks.results import BenchmarkError, Result
from tests.services import REDIS_URL

KEY = "token-benchmark-secret-key-0123456789abcdef"
SESSION = str(uuid.uuid4())


@dataclass(frozen=True)
class Params:
    """Calls per in-process figure (fewer for the ones that go over the network or to the
    database) and the HTTP load shape."""

    calls: int
    io_calls: int
    connections: int
    warmup: float
    duration: float


FULL = Params(calls=50_000, io_calls=5_000, connections=50, warmup=2.0, duration=8.0)
QUICK = Params(calls=5_000, io_calls=500, connections=20, warmup=0.5, duration=2.0)


async def per_call_us(calls: int, step: Callable[[], Awaitable[object]]) -> float:
    """Microseconds per ``await step()``, over ``calls`` calls after a short warm-up."""
    for _ in range(min(100, calls)):
        await step()
    started = time.perf_counter()
    for _ in range(calls):
        await step()
    return (time.perf_counter() - started) / calls * 1e6


async def revocation_check(cache: Cache, calls: int) -> float:
    """Microseconds per revoked-session lookup (a miss: the usual case) in ``cache``."""
    key = REVOKED_PREFIX + SESSION
    return await per_call_us(calls, lambda: cache.get(key))


async def redis_figure(result: Result, calls: int) -> None:
    """The Redis revocation check, or a note saying why there is none."""
    client = connect(REDIS_URL, client_name="medianest-bench")
    try:
        await client.ping()
    except Exception as exc:
        result.notes.append(f"no Redis revocation figure: {REDIS_URL} answered {exc!r}")
        await client.aclose()
        return
    try:
        cache = RedisCache(client, prefix=f"medianest-bench-{uuid.uuid4().hex[:8]}:")
        us = await revocation_check(cache, calls)
        result.add("redis_revocation_check_us", "revocation check (Redis)", round(us, 1), "µs")
    finally:
        await client.aclose()


async def in_process(result: Result, params: Params, data_dir: Path) -> str:
    """The in-process figures; returns a bearer token for a user of the hub in ``data_dir``."""
    tokens = AccessTokens([KEY], lifetime=timedelta(minutes=15))
    token = tokens.issue(1, SESSION).token

    async def verify() -> object:
        return tokens.verify(token)

    jwt_us = await per_call_us(params.calls, verify)
    result.add("jwt_verify_us", "JWT verification (HS256 + claims)", round(jwt_us, 2), "µs")
    memory_us = await revocation_check(MemoryCache(), params.calls)
    result.add(
        "memory_revocation_check_us", "revocation check (in memory)", round(memory_us, 2), "µs"
    )
    await redis_figure(result, params.io_calls)

    hub = build_hub(load_settings(data_dir=data_dir), autoload=False)
    await hub.start(services_only=True)
    try:
        with hub.database.activate():
            user = await User.create(username=f"bench-{uuid.uuid4().hex[:6]}", role="admin")
            issued = await hub.sessions.start(user, ip="127.0.0.1", user_agent="bench")
            kept_us = await per_call_us(
                params.io_calls, lambda: hub.sessions.authenticate(issued.access_token)
            )

            async def read_again() -> object:
                hub.sessions.users.forget(user.id)
                return await hub.sessions.authenticate(issued.access_token)

            read_us = await per_call_us(params.io_calls, read_again)
    finally:
        await hub.close()
    result.add(
        "authenticate_sqlite_us",
        "whole check: JWT + revocation + session and user kept from a recent request",
        round(kept_us, 1),
        "µs",
    )
    result.add(
        "authenticate_read_user_sqlite_us",
        "whole check: JWT + revocation + session and user read from the database (SQLite)",
        round(read_us, 1),
        "µs",
    )
    return issued.access_token


async def http_rates(
    result: Result, params: Params, workdir: Path, hub: ServedHub, token: str
) -> None:
    """Load ``/health/live`` and ``/api/v1/me`` in turn; record their rates and the gap."""
    rates: dict[str, float] = {}
    for tag, target in (
        ("live", Target("/health/live", tag="live")),
        ("me", Target("/api/v1/me", headers={"Authorization": f"Bearer {token}"}, tag="me")),
    ):
        spec = LoadSpec(
            port=hub.port,
            targets=[target],
            connections=params.connections,
            warmup=params.warmup,
            duration=params.duration,
            watch_pid=hub.child.pid,
        )
        report = await run_load(spec, workdir / f"loadgen-{tag}.log")
        latency = report.latency_ms[tag]
        rates[tag] = report.rate
        result.add(
            f"http.{tag}.requests_per_second",
            f"GET {target.path}: requests/s",
            round(report.rate, 1),
            "req/s",
        )
        result.add(
            f"http.{tag}.latency_p50_ms", f"GET {target.path}: latency p50", latency.p50, "ms"
        )
        result.add(
            f"http.{tag}.latency_p99_ms", f"GET {target.path}: latency p99", latency.p99, "ms"
        )
    cost_ms = 1000 / rates["me"] - 1000 / rates["live"]
    result.notes.append(
        f"GET /api/v1/me serves {rates['me'] / rates['live']:.0%} of the /health/live rate: "
        f"about {cost_ms:.2f} ms more server time per request (authentication, the user "
        "lookup and the larger answer)"
    )


async def run(quick: bool) -> Result:
    """Measure in-process verification, then both request rates on one served hub."""
    params = QUICK if quick else FULL
    result = Result(
        name="token_verify",
        title="Cost of verifying a bearer access token per request",
        params={
            "calls": params.calls,
            "io_calls": params.io_calls,
            "connections": params.connections,
            "warmup_seconds": params.warmup,
            "duration_seconds": params.duration,
            "server": "medianest serve, 1 worker, embedded, rate limits off",
        },
    )
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        workdir = Path(tmp)
        async with serve_hub(workdir, MEDIANEST_RATE_LIMITS__ENABLED="false") as hub:
            async with httpx.AsyncClient(timeout=10.0) as client:
                await wait_ready(client, hub.url)
                token = await in_process(result, params, workdir / "data")
                check = await client.get(
                    f"{hub.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
                )
                if check.status_code != 200:
                    raise BenchmarkError(
                        f"GET /api/v1/me answered {check.status_code}: {check.text[:200]}"
                    )
            await http_rates(result, params, workdir, hub, token)
            if hub.child.process.returncode is not None:
                raise hub.child.failure("the hub exited during the load")
    return result
