"""Pages and widgets plugins add (``register_pages``, ``register_widgets``), inside the shell.

At boot, :func:`install_plugin_pages` collects them, refuses bad declarations naming the
plugin (a path or widget id that is malformed or used twice, a template folder that does not
exist, two static folders), and registers one blueprint per plugin: its pages at
``/plugins/<key><path>`` (each declared ``requires(permission)`` or ``signed_in``) and its
static files at ``/plugins/<key>/assets/<name>`` (fingerprinted like core's). Navigation
entries go after core's.

Each plugin's templates render in their own Jinja environment (autoescaped, the hub's
translations and filters), so a plugin cannot shadow core's templates nor reach another
plugin's. A loader that raises or takes longer than ``LOADER_TIMEOUT_SECONDS``, or a template
that fails, renders an error inside the page's or widget's own area, and is logged with the
plugin's key; the shell around it renders as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from quart import Blueprint, Quart, Response, abort, current_app, request, url_for

from medianest.core.web import context
from medianest.core.web.pages import i18n
from medianest.core.web.pages.assets import AssetSet
from medianest.core.web.pages.shell import NavEntry, page_blueprint, render_page
from medianest.sdk.access import public, requires, signed_in
from medianest.sdk.errors import PluginError
from medianest.sdk.pages import (
    LOADER_TIMEOUT_SECONDS,
    PAGE_PATH_PATTERN,
    WIDGET_ID_PATTERN,
    PageContext,
    PluginPage,
    Widget,
)
from medianest.sdk.web import current_principal

if TYPE_CHECKING:
    from medianest.core.hub import Hub

log = structlog.get_logger(__name__)

PLUGIN_WEB_EXTENSION = "medianest.plugin_web"
PLUGIN_NAV_ORDER = 60


@dataclass
class PluginWeb:
    """What one plugin adds to the interface."""

    key: str
    pages: list[PluginPage] = field(default_factory=list)
    widgets: list[Widget] = field(default_factory=list)
    assets: AssetSet | None = None
    environments: dict[Path, Environment] = field(default_factory=dict)

    def environment(self, templates: Path) -> Environment:
        """The Jinja environment of the plugin's ``templates`` folder."""
        if templates not in self.environments:
            env = Environment(
                loader=FileSystemLoader(str(templates)),
                autoescape=select_autoescape(default=True, default_for_string=True),
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.install_gettext_callables(  # type: ignore[attr-defined]
                gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
            )
            env.globals["_"] = env.globals["gettext"]
            for name in ("datetime", "date", "number", "bdi", "kind_name"):
                env.filters[name] = current_app.jinja_env.filters[name]
            env.globals["asset"] = self.asset_url
            self.environments[templates] = env
        return self.environments[templates]

    def asset_url(self, name: str) -> str:
        """The fingerprinted URL of the plugin's static file ``name``."""
        asset = self.assets.by_name.get(name) if self.assets is not None else None
        if asset is None:
            raise KeyError(f"plugin {self.key} has no static file {name!r}")
        return url_for(f"plugin_pages_{self.key}.asset", filename=asset.fingerprinted)


def install_plugin_pages(app: Quart, hub: Hub) -> None:
    """Collect plugins' pages and widgets and register their routes and navigation.

    :raises PluginError: a plugin declared something wrong (the message says what).
    """
    webs: dict[str, PluginWeb] = {}
    for info, page in hub.host.collect("register_pages", hub=hub):
        _expect(info.key, page, PluginPage, "register_pages")
        webs.setdefault(info.key, PluginWeb(info.key)).pages.append(page)
    for info, widget in hub.host.collect("register_widgets", hub=hub):
        _expect(info.key, widget, Widget, "register_widgets")
        webs.setdefault(info.key, PluginWeb(info.key)).widgets.append(widget)
    app.extensions[PLUGIN_WEB_EXTENSION] = webs
    for web in webs.values():
        _check(web)
        blueprint = _blueprint(web)
        app.register_blueprint(blueprint)
    nav = app.extensions["medianest.pages"].nav
    for web in webs.values():
        for index, page in enumerate(web.pages):
            if page.nav_label:
                nav.append(
                    NavEntry(
                        f"plugin_pages_{web.key}.page_{index}",
                        page.nav_label,
                        permission=page.permission,
                        order=PLUGIN_NAV_ORDER,
                        plugin=web.key,
                    )
                )


def _expect(key: str, item: object, kind: type, hook: str) -> None:
    if not isinstance(item, kind):
        raise PluginError(
            f"plugin {key} returned {type(item).__name__} from {hook}; "
            f"expected medianest.sdk.{kind.__name__}",
            plugin=key,
        )


def _check(web: PluginWeb) -> None:
    paths: set[str] = set()
    for page in web.pages:
        if not PAGE_PATH_PATTERN.match(page.path):
            raise PluginError(
                f"page path {page.path!r} of plugin {web.key} must be / or lowercase segments "
                "like /stats",
                plugin=web.key,
            )
        if page.path in paths:
            raise PluginError(f"plugin {web.key} declares page {page.path} twice", plugin=web.key)
        if page.path.startswith("/assets"):
            raise PluginError(
                f"page path {page.path} of plugin {web.key} is reserved for its static files",
                plugin=web.key,
            )
        paths.add(page.path)
    ids: set[str] = set()
    for widget in web.widgets:
        if not WIDGET_ID_PATTERN.match(widget.id) or widget.id in ids:
            raise PluginError(
                f"widget id {widget.id!r} of plugin {web.key} is malformed or used twice",
                plugin=web.key,
            )
        ids.add(widget.id)
    items: list[PluginPage | Widget] = [*web.pages, *web.widgets]
    for item in items:
        if not Path(item.templates).is_dir():
            raise PluginError(
                f"templates folder {item.templates} of plugin {web.key} does not exist",
                plugin=web.key,
            )
    statics = {Path(item.static) for item in items if item.static is not None}
    if len(statics) > 1:
        raise PluginError(
            f"plugin {web.key} names several static folders ({', '.join(map(str, statics))}); "
            "use one",
            plugin=web.key,
        )
    if statics:
        web.assets = AssetSet(statics.pop())


def _blueprint(web: PluginWeb) -> Blueprint:
    blueprint = page_blueprint(
        f"plugin_pages_{web.key}",
        __name__,
        template_folder="../templates",
        url_prefix=f"/plugins/{web.key}",
    )

    async def asset(filename: str) -> Response:
        response = web.assets.respond(filename) if web.assets is not None else None
        if response is None:
            abort(404)
        return response

    asset.__doc__ = f"Static files of plugin {web.key}."
    blueprint.add_url_rule("/assets/<path:filename>", "asset", public(asset), methods=["GET"])
    for index, page in enumerate(web.pages):
        view = _page_view(web, page)
        declared = requires(page.permission)(view) if page.permission else signed_in(view)
        rule = page.path if page.path != "/" else ""
        blueprint.add_url_rule(rule or "/", f"page_{index}", declared, methods=["GET"])
    return blueprint


def _page_view(web: PluginWeb, page: PluginPage) -> Any:
    async def view() -> Response:
        body, failed = await _render(web, page.templates, page.template, page.loader, page.title)
        return await render_page(
            "plugin_page.html",
            title=page.title,
            status=500 if failed else 200,
            etag=not failed,
            plugin=web.key,
            body=body,
        )

    view.__name__ = f"plugin_{web.key}_page"
    view.__doc__ = f"{page.title} (plugin {web.key})."
    return view


async def _render(
    web: PluginWeb, templates: Path, template: str, loader: Any, title: str
) -> tuple[Markup, bool]:
    """The plugin's template rendered with its loader's values, or an error box (and True)."""
    principal = current_principal()
    try:
        values: Mapping[str, Any] = {}
        if loader is not None:
            loaded = PageContext(
                hub=context.hub(),
                principal=principal,  # type: ignore[arg-type]  # pages are signed in
                args={k: v for k, v in request.args.items()},
                locale=i18n.current_locale(),
            )
            async with asyncio.timeout(LOADER_TIMEOUT_SECONDS):
                values = await loader(loaded)
            if not isinstance(values, Mapping):
                raise TypeError(f"the loader answered {type(values).__name__}, not a mapping")
        env = web.environment(Path(templates))
        html = env.get_template(template).render(
            **values, principal=principal, locale=i18n.current_locale()
        )
        return Markup(html), False  # noqa: S704 - the output of an autoescaped template
    except Exception as exc:  # the plugin's failure stays in its area
        reason = "took too long" if isinstance(exc, TimeoutError) else type(exc).__name__
        log.exception("plugin page failed", plugin=web.key, title=title, reason=reason)
        message = i18n.gettext(
            "%(title)s (plugin %(plugin)s) could not be shown: %(reason)s.",
            title=title,
            plugin=web.key,
            reason=reason,
        )
        return Markup('<p class="plugin-error" role="alert">%s</p>') % message, True


async def render_widgets(area: str) -> list[Markup]:
    """The widgets of ``area`` the current person may see, rendered concurrently, each in its
    own section (a failing one shows its error there)."""
    principal = current_principal()
    webs: dict[str, PluginWeb] = current_app.extensions.get(PLUGIN_WEB_EXTENSION, {})
    shown = [
        (web, widget)
        for web in webs.values()
        for widget in web.widgets
        if widget.area == area
        and principal is not None
        and (widget.permission is None or principal.has(widget.permission))
    ]
    if not shown:
        return []
    bodies = await asyncio.gather(
        *(_render(web, w.templates, w.template, w.loader, w.title) for web, w in shown)
    )
    sections = []
    for (web, widget), (body, _failed) in zip(shown, bodies, strict=True):
        heading_id = f"widget-{web.key}-{widget.id}"
        sections.append(
            Markup(
                '<section class="plugin-area widget" data-plugin="%s" aria-labelledby="%s">'
                '<h2 id="%s">%s</h2>%s</section>'
            )
            % (web.key, heading_id, heading_id, widget.title, body)
        )
    return sections


def plugin_webs() -> dict[str, PluginWeb]:
    """What each plugin adds to the current app's interface, by plugin key."""
    webs: dict[str, PluginWeb] = current_app.extensions.get(PLUGIN_WEB_EXTENSION, {})
    return webs
