"""Core endpoints: health (public), metrics and the system's workers (``view_metrics``),
plugins and runtime flags (``manage_settings``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart import Blueprint, Response
from quart_schema import tag, validate_response

from medianest.core.web import context
from medianest.core.web.drain import draining
from medianest.core.web.health import check_components
from medianest.core.web.schemas import (
    CircuitView,
    ComponentHealth,
    FlagList,
    FlagView,
    Liveness,
    PluginList,
    PluginView,
    Readiness,
    SourceView,
    SystemView,
)
from medianest.core.web.worker_status import worker_status
from medianest.sdk.access import Permission, public, requires
from medianest.sdk.providers import MediaSource
from medianest.sdk.web import current_principal, responds

if TYPE_CHECKING:
    from medianest.core.hub import Hub

health = Blueprint("health", __name__, url_prefix="/health")
api = Blueprint("core_api", __name__, url_prefix="/api/v1")
metrics = Blueprint("metrics", __name__)
METRICS_TYPE = "text/plain"


@health.get("/live")
@public
@tag(["system"])
@validate_response(Liveness)
async def live() -> Liveness:
    """The process is up and serving."""
    return Liveness()


@health.get("/ready")
@public
@tag(["system"])
@validate_response(Readiness, 200)
@validate_response(Readiness, 503)
async def ready() -> tuple[Readiness, int]:
    """Every component answers: database, Redis in scaled mode, each media source.

    A replica that was asked to stop answers 503 at once with a single ``replica`` component
    (``shutting down``), so that load balancers stop sending it requests while it drains.

    Scaled mode adds a ``workers`` component; that one has ``required: false``: no live
    worker is reported, not unready. Callers holding ``view_metrics`` also get each worker
    by its heartbeat (host, pid, jobs); others only the component, since probes are anonymous.
    """
    hub = context.hub()
    if draining():
        stopping = ComponentHealth(name="replica", ok=False, detail="shutting down (draining)")
        return Readiness(status="unavailable", mode=hub.mode, components=[stopping]), 503
    workers = await worker_status(hub)
    components = await check_components(hub, workers)
    ok = all(c.ok for c in components if c.required)
    principal = current_principal()
    shown = principal is not None and principal.has(Permission.VIEW_METRICS)
    body = Readiness(
        status="ready" if ok else "unavailable",
        mode=hub.mode,
        components=components,
        workers=workers.items if workers is not None and shown else None,
    )
    return body, 200 if ok else 503


@metrics.get("/metrics")
@requires(Permission.VIEW_METRICS)
@tag(["system"])
@responds(200, "The metrics, in the Prometheus text exposition format", media_type=METRICS_TYPE)
async def prometheus() -> Response:
    """Prometheus metrics in the text exposition format."""
    hub = context.hub()
    return Response(hub.metrics.render(), content_type=hub.metrics.content_type)


@api.get("/system")
@requires(Permission.VIEW_METRICS)
@tag(["system"])
@validate_response(SystemView)
async def system() -> SystemView:
    """The hub's runtime: its mode and, in scaled mode, each ARQ worker by its heartbeat
    (alive or silent, jobs running, done and failed, dependencies it cannot reach)."""
    hub = context.hub()
    return SystemView(mode=hub.mode, workers=await worker_status(hub))


@api.get("/plugins")
@requires(Permission.MANAGE_SETTINGS)
@tag(["system"])
@validate_response(PluginList)
async def plugins() -> PluginList:
    """Installed plugins: key, version, whether they loaded, the providers they offer, and
    their media sources with what they can do (live sources: this replica's search circuit)."""
    return plugin_list()


def plugin_list() -> PluginList:
    """The installed plugins as ``GET /api/v1/plugins`` shows them (and the admin page)."""
    hub = context.hub()
    items = [
        PluginView(
            key=info.key,
            distribution=info.distribution,
            version=info.version,
            bundled=info.bundled,
            enabled=info.enabled,
            provides=info.provides,
            sources=[
                _source_view(hub, hub.registry.get("media_sources", source_id))
                for source_id in info.provides.get("media_sources", [])
            ],
        )
        for info in hub.host.plugins.values()
    ]
    return PluginList(items=items, total=len(items))


def _source_view(hub: Hub, source: MediaSource) -> SourceView:
    view = hub.live.circuit(source.id)
    circuit = None
    if view is not None:
        circuit = CircuitView(
            state=view.state.value,
            failures=view.failures,
            opened_at=view.opened_at,
            retry_at=view.retry_at,
            last_error=view.last_error,
        )
    return SourceView(
        id=source.id,
        name=str(source.name),
        capabilities=sorted(str(capability) for capability in source.capabilities),
        circuit=circuit,
    )


@api.get("/flags")
@requires(Permission.MANAGE_SETTINGS)
@tag(["system"])
@validate_response(FlagList)
async def flags() -> FlagList:
    """Runtime feature flags and their current values."""
    return flag_list()


def flag_list() -> FlagList:
    """The runtime flags as ``GET /api/v1/flags`` shows them (and the admin page)."""
    states = context.hub().flag_service.list()
    items = [FlagView.model_validate(state, from_attributes=True) for state in states]
    return FlagList(items=items, total=len(items))
