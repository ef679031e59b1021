"""The web interface: server-rendered pages around the same services as the JSON API.

:func:`install_pages` gives an app everything pages need (translations, assets, the shell's
navigation, compression of every answer: :mod:`medianest.core.web.compression`) and
registers every page blueprint of :data:`PAGE_BLUEPRINTS` and those plugins add
(:mod:`medianest.core.web.pages.plugin_pages`).
How to write a page: ``docs/web-pages.md``.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from quart import Blueprint, Quart

from medianest.core.web.compression import install_compression
from medianest.core.web.pages import i18n
from medianest.core.web.pages.account import account_pages
from medianest.core.web.pages.admin import admin_pages
from medianest.core.web.pages.apidocs import apidocs_pages
from medianest.core.web.pages.assets import ASSETS_EXTENSION, STATIC_DIR, AssetSet, asset_url
from medianest.core.web.pages.home import home_pages
from medianest.core.web.pages.images import image_pages, poster_src
from medianest.core.web.pages.media import library_pages, media_pages
from medianest.core.web.pages.notifications import notification_pages
from medianest.core.web.pages.plugin_pages import install_plugin_pages
from medianest.core.web.pages.requests import requests_pages
from medianest.core.web.pages.search import search_pages
from medianest.core.web.pages.shell import (
    ACCOUNT_MENU,
    CORE_NAV,
    PAGE_EXTENSION,
    PageRegistry,
    install_browser_not_found,
    install_page_templates,
)
from medianest.core.web.pages.site import assets, site_pages

if TYPE_CHECKING:
    from medianest.core.hub import Hub

PAGE_BLUEPRINTS: tuple[Blueprint, ...] = (
    assets,
    site_pages,
    home_pages,
    account_pages,
    apidocs_pages,
    search_pages,
    media_pages,
    image_pages,
    library_pages,
    requests_pages,
    admin_pages,
    notification_pages,
)
"""Core's page blueprints, in registration order."""


TONES = 6
"""Colours of the placeholder of an item without a poster (``poster-blank tone-N``)."""


def tone(text: object) -> int:
    """A colour for ``text``'s placeholder, the same for the same text on every page."""
    return zlib.crc32(str(text).encode("utf-8")) % TONES


def install_pages(app: Quart, hub: Hub) -> None:
    """Set up the pages on ``app``: call once in the app factory, after the API blueprints."""
    i18n.install_i18n(app)
    app.extensions[ASSETS_EXTENSION] = AssetSet(STATIC_DIR)
    app.extensions[PAGE_EXTENSION] = PageRegistry(nav=list(CORE_NAV), account=list(ACCOUNT_MENU))
    app.jinja_env.globals["asset"] = asset_url
    app.jinja_env.globals["has_page"] = lambda endpoint: endpoint in app.view_functions
    app.jinja_env.filters["tone"] = tone
    app.jinja_env.globals["poster_src"] = poster_src
    for blueprint in PAGE_BLUEPRINTS:
        app.register_blueprint(blueprint)
    install_plugin_pages(app, hub)
    install_page_templates(app)
    install_browser_not_found(app)
    install_compression(app)
