"""Core endpoints: health (public), metrics (``view_metrics``), plugins and runtime flags
(``manage_settings``)."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import tag, validate_response

from medianest.core.health import check_components
from medianest.core.web import context
from medianest.core.web.schemas import (
    FlagList,
    FlagView,
    Liveness,
    PluginList,
    PluginView,
    Readiness,
)
from medianest.sdk.access import Permission, public, requires

health = Blueprint("health", __name__, url_prefix="/health")
api = Blueprint("core_api", __name__, url_prefix="/api/v1")
metrics = Blueprint("metrics", __name__)


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
    """Every component answers: database, Redis in scaled mode, each media source."""
    hub = context.hub()
    components = await check_components(hub)
    ok = all(c.ok for c in components)
    body = Readiness(status="ready" if ok else "unavailable", mode=hub.mode, components=components)
    return body, 200 if ok else 503


@metrics.get("/metrics")
@requires(Permission.VIEW_METRICS)
async def prometheus() -> Response:
    """Prometheus metrics in the text exposition format."""
    hub = context.hub()
    return Response(hub.metrics.render(), content_type=hub.metrics.content_type)


@api.get("/plugins")
@requires(Permission.MANAGE_SETTINGS)
@tag(["system"])
@validate_response(PluginList)
async def plugins() -> PluginList:
    """Installed plugins: key, version, whether they loaded, and the providers they offer."""
    hub = context.hub()
    items = [
        PluginView(
            key=info.key,
            distribution=info.distribution,
            version=info.version,
            bundled=info.bundled,
            enabled=info.enabled,
            provides=info.provides,
        )
        for info in hub.host.plugins.values()
    ]
    return PluginList(items=items, total=len(items))


@api.get("/flags")
@requires(Permission.MANAGE_SETTINGS)
@tag(["system"])
@validate_response(FlagList)
async def flags() -> FlagList:
    """Runtime feature flags and their current values."""
    states = context.hub().flag_service.list()
    items = [FlagView.model_validate(state, from_attributes=True) for state in states]
    return FlagList(items=items, total=len(items))
