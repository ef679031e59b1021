"""Readiness: is every component this hub depends on answering right now?"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from medianest.core.search.breaker import CircuitState
from medianest.core.web.schemas import ComponentHealth, WorkersStatus
from medianest.core.web.worker_status import as_component, worker_status
from medianest.sdk.models import HealthStatus
from medianest.sdk.providers import HealthCheckedSource, MediaSource, SourceCapability, supports

if TYPE_CHECKING:
    from medianest.core.hub import Hub


async def _check(
    name: str, probe: Callable[[], Awaitable[Any]], limit_seconds: float
) -> ComponentHealth:
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(probe(), limit_seconds)
    except TimeoutError:
        return ComponentHealth(name=name, ok=False, detail=f"no answer within {limit_seconds:g} s")
    except Exception as exc:
        return ComponentHealth(name=name, ok=False, detail=f"{type(exc).__name__}: {exc}")
    latency = round((time.perf_counter() - started) * 1000, 2)
    if isinstance(result, HealthStatus):
        return ComponentHealth(
            name=name,
            ok=result.ok,
            detail=result.detail,
            latency_ms=result.latency_ms if result.latency_ms else latency,
        )
    return ComponentHealth(name=name, ok=True, latency_ms=latency)


async def _unchecked() -> HealthStatus:
    return HealthStatus(ok=True, detail="no health check (the source does not declare 'health')")


def _probe(source: MediaSource) -> Callable[[], Awaitable[Any]]:
    """The source's ``health`` when it declares the capability; otherwise it counts as up."""
    if supports(source, SourceCapability.HEALTH):
        return cast(HealthCheckedSource, source).health
    return _unchecked


async def check_components(hub: Hub, workers: WorkersStatus | None = None) -> list[ComponentHealth]:
    """Check the database, Redis (scaled mode) and every media source, concurrently.

    Each check has the configured timeout; a hanging component costs exactly that. A live
    source also reports this replica's search circuit breaker, and is not ok while it is
    open (searches skip it), whatever its own health check says. In scaled mode the ARQ
    workers come last (``workers``, read now unless given): ``required`` false, since an
    API replica serves without them.
    """
    timeout = hub.settings.health.check_timeout_seconds
    probes: list[tuple[str, Callable[[], Awaitable[Any]]]] = [("database", hub.database.ping)]
    if hub.mode == "scaled":
        probes.append(("redis", hub.state.ping))
    probes += [(source.id, _probe(source)) for source in hub.registry.all("media_sources")]
    results = await asyncio.gather(*(_check(name, probe, timeout) for name, probe in probes))
    sources = {source.id for source in hub.registry.all("media_sources")}
    checked = []
    for component in results:
        if component.name in sources and component.latency_ms is not None:
            hub.metrics.upstream_calls.labels(
                component.name, "health", "ok" if component.ok else "error"
            ).observe(component.latency_ms / 1000)
        if component.name in sources:
            component = _with_circuit(hub, component)
        hub.metrics.component_up.labels(component.name).set(1 if component.ok else 0)
        checked.append(component)
    if workers is None:
        workers = await worker_status(hub)
    if workers is not None:
        component = as_component(workers)
        hub.metrics.component_up.labels(component.name).set(1 if component.ok else 0)
        checked.append(component)
    return checked


async def check_sources(hub: Hub) -> list[ComponentHealth]:
    """Check every media source concurrently (each within the configured timeout), with this
    replica's search circuit laid over it, as :func:`check_components` reports them."""
    timeout = hub.settings.health.check_timeout_seconds
    sources = hub.registry.all("media_sources")
    results = await asyncio.gather(*(_check(s.id, _probe(s), timeout) for s in sources))
    return [_with_circuit(hub, component) for component in results]


def _with_circuit(hub: Hub, component: ComponentHealth) -> ComponentHealth:
    """``component`` with its search circuit; not ok while the circuit is open."""
    view = hub.live.circuit(component.name)
    if view is None:
        return component
    update: dict[str, Any] = {"circuit": view.state.value}
    if view.state is CircuitState.OPEN:
        own = f"; {component.detail}" if not component.ok and component.detail else ""
        update |= {"ok": False, "detail": view.describe() + own}
    return component.model_copy(update=update)
