"""What a plugin adds to the web interface: pages and widgets (``register_pages``,
``register_widgets``).

A :class:`PluginPage` is served at ``/plugins/<key><path>`` inside the hub's shell (its
navigation, the person's menu, the theme): core renders the plugin's own template with what
its ``loader`` returns and places the result in the page's area. A :class:`Widget` is a small
template with an async loader, shown on Home (``area="home"``) or the dashboard
(``area="dashboard"``). Both name the permission they need (``None``: anyone signed in).

Templates are Jinja, autoescaped, from the plugin's own ``templates`` folder; they get what the
loader returned, plus ``principal``, ``locale``, ``asset(name)`` (the URL of a file of the
plugin's ``static`` folder, fingerprinted and cached for a year), ``_``/``gettext`` (the hub's
translations) and the hub's filters (``bdi``, ``datetime``, ``date``, ``number``). No inline
scripts: the pages' Content-Security-Policy allows scripts from the hub only, so ship them in
``static`` and load them with ``<script type="module" src="{{ asset('x.js') }}">``.

A loader that raises, times out (:data:`LOADER_TIMEOUT_SECONDS`) or a template that fails
shows an error in the page's or widget's own area; the rest of the page is unaffected.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from medianest.sdk.access import Permission
from medianest.sdk.models import Principal
from medianest.sdk.services import HubContext

LOADER_TIMEOUT_SECONDS = 5.0
"""How long a page's or widget's loader may take before its area shows an error."""
PAGE_PATH_PATTERN = re.compile(r"^/(?:[a-z0-9][a-z0-9_-]*(?:/[a-z0-9][a-z0-9_-]*)*)?$")
"""A page's path under ``/plugins/<key>``: ``/`` or lowercase segments (``/stats/daily``)."""
WIDGET_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True, slots=True)
class PageContext:
    """What a loader knows about the request it loads for."""

    hub: HubContext
    """The running hub (services, settings, providers)."""
    principal: Principal
    """Who is looking."""
    args: Mapping[str, str]
    """The page's query parameters (first value of each)."""
    locale: str
    """The locale the page is shown in (``en``, ``fr``)."""


Loader = Callable[[PageContext], Awaitable[Mapping[str, Any]]]
"""An async function of the :class:`PageContext` answering the template's values."""


@dataclass(frozen=True, slots=True)
class PluginPage:
    """A page of the plugin at ``/plugins/<key><path>``.

    :param path: ``/`` or lowercase segments (``/stats``), unique within the plugin.
    :param title: the page's title (and its navigation label unless ``nav_label`` says).
    :param template: the template's name inside ``templates``.
    :param templates: the plugin's templates folder.
    :param loader: async values for the template; ``None`` renders it with none.
    :param permission: the permission a person needs to open it; ``None``: anyone signed in.
    :param nav_label: show a link in the top navigation with this text (``None``: no link).
    :param static: the plugin's static files folder (``asset(name)`` in its templates).
    """

    path: str
    title: str
    template: str
    templates: Path
    loader: Loader | None = None
    permission: Permission | None = None
    nav_label: str | None = None
    static: Path | None = None


@dataclass(frozen=True, slots=True)
class Widget:
    """A widget of the plugin on Home or the dashboard.

    :param id: unique within the plugin (``[a-z0-9][a-z0-9_-]*``).
    :param title: the widget's heading.
    :param template: the template's name inside ``templates``.
    :param templates: the plugin's templates folder.
    :param loader: async values for the template.
    :param permission: shown only to holders of it; ``None``: anyone signed in.
    :param area: where it is shown: ``home`` or ``dashboard``.
    :param static: the plugin's static files folder.
    """

    id: str
    title: str
    template: str
    templates: Path
    loader: Loader
    permission: Permission | None = None
    area: Literal["home", "dashboard"] = "home"
    static: Path | None = None
