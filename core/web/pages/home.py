"""Home (``/``): what was recently added across the sources, and how the sources are doing.

Recently added is the same list as ``GET /api/v1/media/recent`` (shown to holders of
``search``), reused by each process for :data:`RECENT_SECONDS`; the sources' health is that of
``GET /health/ready``, checked at most every :data:`HEALTH_SECONDS` by each process (a page
view never waits on every source). Plugins' home widgets follow
(:mod:`medianest.core.web.pages.plugin_pages`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from quart import Response, current_app

from medianest.core.media.reads import RECENT_KINDS, MediaReads
from medianest.core.web import context
from medianest.core.web.health import check_sources
from medianest.core.web.media_schemas import ItemView
from medianest.core.web.pages import i18n
from medianest.core.web.pages.plugin_pages import render_widgets
from medianest.core.web.pages.shell import page_blueprint, render_page
from medianest.core.web.schemas import ComponentHealth
from medianest.sdk.access import Permission, signed_in
from medianest.sdk.web import current_principal

home_pages = page_blueprint("home_pages", __name__, template_folder="../templates")

RECENT_COUNT = 18
RECENT_SECONDS = 10.0
"""How long each process reuses the recently added list (a sync changes it, rarely)."""
HEALTH_SECONDS = 30.0
HEALTH_EXTENSION = "medianest.pages.health"
RECENT_EXTENSION = "medianest.pages.recent"


@dataclass
class _HealthCache:
    checked_at: float
    components: list[ComponentHealth]


@home_pages.get("/")
@signed_in
async def home() -> Response:
    """Home: recently added (with ``search``), the sources' health, plugins' widgets."""
    principal = current_principal()
    recent: list[ItemView] = []
    if principal is not None and principal.has(Permission.SEARCH):
        recent = await _recently_added()
    health = await _sources_health()
    return await render_page(
        "home.html",
        title=i18n.gettext("Home"),
        recent=recent,
        health=health,
        widgets=await render_widgets("home"),
    )


async def _recently_added() -> list[ItemView]:
    cached: tuple[float, list[ItemView]] | None = current_app.extensions.get(RECENT_EXTENSION)
    now = time.monotonic()
    if cached is None or now - cached[0] > RECENT_SECONDS:
        hub = context.hub()
        sources = [source.id for source in hub.registry.all("media_sources")]
        page = await MediaReads(hub.database).recent(
            sources, RECENT_KINDS, limit=RECENT_COUNT, cursor=None
        )
        cached = (now, [ItemView.of(item) for item in page.items])
        current_app.extensions[RECENT_EXTENSION] = cached
    return cached[1]


async def _sources_health() -> list[ComponentHealth]:
    cached: _HealthCache | None = current_app.extensions.get(HEALTH_EXTENSION)
    now = time.monotonic()
    if cached is None or now - cached.checked_at > HEALTH_SECONDS:
        cached = _HealthCache(now, await check_sources(context.hub()))
        current_app.extensions[HEALTH_EXTENSION] = cached
    return cached.components
