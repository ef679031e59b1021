"""What every page shares: its blueprint, its rendering, its navigation and its error pages.

A page is a view on a blueprint made by :func:`page_blueprint`, declared with
:mod:`medianest.sdk.access` like any route (``public``, ``signed_in``, ``requires(...)``) and
answered with :func:`render_page`. The blueprint turns the guard's refusals into pages: no
(or an expired) sign-in leads to ``/sign-in?next=<this page>``; a missing permission, an
unknown id or a bad parameter is an HTML page with the right status and the reason, inside
the shell. Pages are not part of the API, so the OpenAPI document leaves them out
(:func:`page_blueprint` hides every view registered on it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import structlog
from jinja2 import Environment, select_autoescape
from quart import Blueprint, Quart, Response, current_app, g, request
from quart_schema import hide
from werkzeug.exceptions import HTTPException, NotFound

from medianest.core.auth.errors import InvalidCredentialsError
from medianest.core.db.models import Notification
from medianest.core.db.outage import unavailable as database_outage
from medianest.core.web import context, problems
from medianest.core.web.pages import i18n
from medianest.core.web.pages.i18n import N_
from medianest.core.web.session_cookies import CSRF_COOKIE
from medianest.sdk.access import Permission
from medianest.sdk.errors import MediaNestError
from medianest.sdk.models import Principal

log = structlog.get_logger(__name__)

SIGN_IN_PATH = "/sign-in"
SEARCH_ENDPOINT = "search_pages.search"
NOTIFICATIONS_ENDPOINT = "notification_pages.inbox_page"
"""The search page: the shell shows its search box on every page once this endpoint exists."""
ADMIN_PERMISSIONS = frozenset(
    {
        Permission.MANAGE_USERS,
        Permission.MANAGE_SETTINGS,
        Permission.RUN_SYNCS,
        Permission.VIEW_AUDIT,
        Permission.VIEW_METRICS,
    }
)
"""Holding any of these shows the Admin entry of the navigation."""
PAGE_EXTENSION = "medianest.pages"
"""``app.extensions`` key of the :class:`PageRegistry`."""
TEMPLATES_EXTENSION = "medianest.page_templates"
"""``app.extensions`` key of the pages' Jinja environment."""


@dataclass(frozen=True, slots=True)
class NavEntry:
    """A link of the top navigation.

    :param endpoint: the page's endpoint (``blueprint.view``); an entry whose endpoint the app
        does not have is not shown (no dead links).
    :param label: its text, an English message id translated when shown.
    :param permission: shown only to holders of it (``None``: every signed-in person).
    :param any_of: shown to holders of any of these (the Admin entry).
    :param order: position, smallest first.
    :param plugin: key of the plugin that added it, when one did.
    """

    endpoint: str
    label: str
    permission: Permission | None = None
    any_of: frozenset[Permission] = frozenset()
    order: int = 100
    plugin: str | None = None

    def visible_to(self, principal: Principal | None) -> bool:
        """Whether ``principal`` sees the entry."""
        if principal is None:
            return False
        if self.permission is not None and not principal.has(self.permission):
            return False
        return not self.any_of or any(principal.has(p) for p in self.any_of)


CORE_NAV: tuple[NavEntry, ...] = (
    NavEntry("home_pages.home", N_("Home"), order=0),
    NavEntry("library_pages.library", N_("Library"), permission=Permission.SEARCH, order=20),
    NavEntry("requests_pages.requests", N_("Requests"), order=30),
    NavEntry(
        "dashboard_pages.dashboard", N_("Dashboard"), permission=Permission.VIEW_ANALYTICS, order=40
    ),
    NavEntry("admin_pages.admin", N_("Admin"), any_of=ADMIN_PERMISSIONS, order=90),
)
"""Core's navigation; entries whose page does not exist yet stay hidden."""

ACCOUNT_MENU: tuple[NavEntry, ...] = (
    NavEntry("account_pages.profile", N_("Profile"), order=0),
    NavEntry("account_pages.sessions", N_("Sessions"), order=10),
    NavEntry("account_pages.api_keys", N_("API keys"), order=20),
    NavEntry("notification_pages.settings", N_("Notifications"), order=30),
)
"""The signed-in person's menu (sign-out is a form after these)."""


@dataclass
class PageRegistry:
    """The navigation of one app: core's entries and those plugins add."""

    nav: list[NavEntry]
    account: list[NavEntry]

    def visible(self, entries: Iterable[NavEntry], principal: Principal | None) -> list[NavEntry]:
        """The entries ``principal`` sees whose page exists, in order."""
        views = current_app.view_functions
        return sorted(
            (e for e in entries if e.endpoint in views and e.visible_to(principal)),
            key=lambda e: (e.order, e.label),
        )


def install_page_templates(app: Quart) -> None:
    """The pages' Jinja environment: the app's templates, globals and filters, rendered
    synchronously (a page renders in one go: an async template pays for every fragment), and
    without the templates' indentation."""
    env = Environment(
        loader=app.create_global_jinja_loader(),
        autoescape=select_autoescape(("html", "htm", "xml")),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=bool(app.config["TEMPLATES_AUTO_RELOAD"]),
    )
    env.globals.update(app.jinja_env.globals)
    env.filters.update(app.jinja_env.filters)
    env.policies.update(app.jinja_env.policies)
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
    )
    env.globals["_"] = env.globals["gettext"]
    app.extensions[TEMPLATES_EXTENSION] = env


async def render_template(name: str, **context: Any) -> str:
    """``name`` rendered with ``context`` and the app's template context (like Quart's)."""
    await current_app.update_template_context(context)
    env: Environment = current_app.extensions[TEMPLATES_EXTENSION]
    return env.get_template(name).render(context)


API_PATHS = ("/api/", "/health/", "/metrics")
"""Paths whose answers are for programs: their errors stay problem+json."""


def install_browser_not_found(app: Quart) -> None:
    """A browser asking for a path the hub does not have (outside the API) gets the error page;
    programs, and every path of the API, get the problem+json answer as before."""

    @app.errorhandler(NotFound)
    async def not_found(error: NotFound) -> Response:
        wants_page = request.accept_mimetypes.accept_html and not request.path.startswith(API_PATHS)
        if wants_page and request.method in ("GET", "HEAD"):
            return await error_page(404, i18n.gettext("There is no page at this address."))
        return problems.from_http_exception(error)


def registry() -> PageRegistry:
    """The current app's :class:`PageRegistry`."""
    pages: PageRegistry = current_app.extensions[PAGE_EXTENSION]
    return pages


def page_blueprint(name: str, import_name: str, **options: Any) -> Blueprint:
    """A blueprint for pages: core's templates, the refusals of the guard as pages, answers
    never stored by shared caches, every view left out of the OpenAPI document."""
    blueprint = Blueprint(name, import_name, **options)
    blueprint.medianest_pages = True  # type: ignore[attr-defined]  # the page matrix finds it
    blueprint.register_error_handler(MediaNestError, _error_page)
    blueprint.register_error_handler(HTTPException, _http_error_page)
    blueprint.register_error_handler(Exception, _unexpected_page)
    blueprint.after_request(_page_headers)
    original = blueprint.add_url_rule

    def add_url_rule(
        rule: str, endpoint: str | None = None, view_func: Any = None, **kwargs: Any
    ) -> None:
        if view_func is not None:
            hide(view_func)
        original(rule, endpoint, view_func, **kwargs)

    # Flask's `setupmethod` decorator leaves the method typed as a plain callable with `self`,
    # which no function set on the instance can match.
    blueprint.add_url_rule = add_url_rule  # type: ignore[method-assign, assignment]
    return blueprint


async def render_page(
    template: str,
    *,
    title: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    etag: bool = True,
    **values: Any,
) -> Response:
    """The page ``template`` (which extends ``base.html``) inside the shell.

    Templates get, besides ``values``: ``title``, ``principal``, ``user`` (the stored user or
    ``None``), ``nav`` and ``account_menu`` (the entries this person sees), ``search_url``
    (``None`` until the search page exists), ``csrf_token`` (for forms), ``locale``, and the
    globals ``asset(name)``, ``_``/``gettext``/``ngettext`` and the filters ``datetime``,
    ``date``, ``number`` and ``bdi``.

    A 200 carries an ETag of its body and answers 304 to a browser that has it already.
    """
    principal = g.get("principal")
    pages = registry()
    views = current_app.view_functions
    body = await render_template(
        template,
        title=title,
        principal=principal,
        user=g.get("current_user"),
        nav=pages.visible(pages.nav, principal),
        account_menu=pages.visible(pages.account, principal),
        search_url=_url_if(SEARCH_ENDPOINT, views),
        csrf_token=csrf_token(),
        locale=i18n.current_locale(),
        unread=await _unread(principal, views),
        **values,
    )
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if etag and status == 200:
        response.set_etag(hashlib.sha256(body.encode("utf-8")).hexdigest()[:32])
        await response.make_conditional(request)
    return response


async def _unread(principal: Principal | None, views: Any) -> int | None:
    """The bell's count for a signed-in person (``None``: no bell)."""
    if principal is None or NOTIFICATIONS_ENDPOINT not in views:
        return None
    try:
        return await Notification.filter(user_id=principal.user_id, read_at=None).count()
    except Exception:  # an error page while the database is away: no count, no bell
        return None


def csrf_token() -> str:
    """The CSRF token of the current session for the page's forms and scripts, or ``""``."""
    session_id = g.get("session_id")
    token = request.cookies.get(CSRF_COOKIE, "")
    if not session_id or not token:
        return ""
    return token if context.hub().sessions.csrf.is_valid(session_id, token) else ""


def sign_in_url(target: str | None = None) -> str:
    """The sign-in page, asking it to come back to ``target`` (default: this request)."""
    if target is None:
        target = request.full_path if request.query_string else request.path
    if target in ("/", "") or target.startswith(SIGN_IN_PATH):
        return SIGN_IN_PATH
    return f"{SIGN_IN_PATH}?next={quote(target, safe='/')}"


def safe_next(value: str | None) -> str:
    """``value`` when it is a path of this hub to go to after signing in, else ``/``.

    Refused: anything not starting with a single ``/`` (``//evil``, ``/\\evil``, ``https:``,
    ``javascript:``), backslashes and control characters anywhere, and the sign-in page.
    """
    if not value or len(value) > 2000:
        return "/"
    if not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "/"
    if value.startswith(SIGN_IN_PATH):
        return "/"
    return value


API_CSP = "default-src 'none'; frame-ancestors 'none'"
"""The security policy of API answers: they are data, never a document."""
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
"""The security policy of pages: only the hub's own scripts, never inline ones."""


def _url_if(endpoint: str, views: dict[str, Callable[..., Any]]) -> str | None:
    if endpoint not in views:
        return None
    from quart import url_for

    return url_for(endpoint)


async def _page_headers(response: Response) -> Response:
    # A 304 has no type, yet its headers replace the cached page's: it needs the page's policy.
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers.setdefault("Cache-Control", "private, no-cache")
    response.vary.add("Cookie")
    response.vary.add("Accept-Language")
    return response


async def error_page(
    status: int, message: str, *, headers: dict[str, str] | None = None
) -> Response:
    """The shell with a heading for ``status`` and ``message`` (escaped), as that status."""
    return await render_page(
        "error.html",
        title=i18n.gettext(_TITLES.get(status, "Something went wrong")),
        status=status,
        headers=headers,
        etag=False,
        status_code=status,
        message=message,
    )


_TITLES = {
    400: N_("That request is not right"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Not allowed"),
    409: N_("Conflict"),
    422: N_("That request is not right"),
    429: N_("Too many requests"),
    500: N_("Something went wrong"),
    502: N_("A service did not answer properly"),
    503: N_("Unavailable for a moment"),
    504: N_("A service took too long"),
}


async def _error_page(error: MediaNestError) -> Response:
    if isinstance(error, InvalidCredentialsError):
        target = None if request.method in ("GET", "HEAD") else "/"
        return Response(status=303, headers={"Location": sign_in_url(target)})
    problem = problems.from_medianest_error(error)
    headers = {k: v for k, v in problem.headers.items() if k in ("Retry-After",)}
    return await error_page(problem.status_code, error.message, headers=headers)


async def _http_error_page(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {}
    if status == 405 and error.get_headers():
        headers = {k: v for k, v in error.get_headers() if k == "Allow"}
    return await error_page(status, error.description or error.name, headers=headers)


async def _unexpected_page(error: Exception) -> Response:
    outage = database_outage(error)
    if outage is not None:
        return await _error_page(outage)
    log.exception("unhandled error on a page", error_type=type(error).__name__)
    return await error_page(500, i18n.gettext("The hub failed to show this page; it is logged."))
