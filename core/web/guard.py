"""Who may call each route, checked at boot and enforced on every request.

At boot, :func:`check_declared` refuses an app in which any view (core's or a plugin's) has
not declared its access with :mod:`medianest.sdk.access`; quart-schema's ``openapi`` and
Quart's ``static`` routes are public.

On every request and WebSocket handshake, :func:`install_guard`'s hooks find the caller and
set ``g.principal`` (see :func:`medianest.sdk.web.current_principal`), ``g.current_user`` (the
stored user), ``g.user_id``, ``g.session_id`` (``None`` for API keys) and
``g.authenticated_by`` (``bearer``, ``api_key`` or ``cookie``):

1. ``Authorization: Bearer mnk_...``: an API key, acting with its scopes;
2. ``Authorization: Bearer <access token>``;
3. else the access-token cookie.

Then it enforces the declaration: no or bad credentials → 401 (one generic answer, whatever
was wrong); a missing permission → 403 naming it; an API key on a ``signed_in`` route that
does not let keys in → 403 ``api_key_not_allowed``; a cookie-authenticated unsafe request
without the session's CSRF token in ``X-CSRF-Token`` (equal to the CSRF cookie; a page's
form may carry it in its ``csrf_token`` field instead), or a
cookie-authenticated WebSocket opened from another origin → 403 ``csrf_failed``. Public routes
never refuse: they see a principal when valid credentials come with the request (cookies only
where they may act, as above), else ``None``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from quart import Quart, Request, Websocket, g, request, websocket

from medianest.core.auth import api_keys
from medianest.core.auth.errors import (
    ApiKeyNotAllowedError,
    CsrfFailedError,
    InvalidCredentialsError,
)
from medianest.core.auth.principals import principal_for
from medianest.core.web.session_cookies import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER
from medianest.sdk.access import Access, access_of
from medianest.sdk.errors import ConfigurationError, PermissionDeniedError, PluginError

if TYPE_CHECKING:
    from medianest.core.hub import Hub

PUBLIC_ENDPOINTS = frozenset({"openapi", "static"})
"""Routes of Quart and quart-schema themselves: the API description and static files."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
CSRF_FORM_FIELD = "csrf_token"
"""The field of a page's form that carries the session's CSRF token."""
PUBLIC = Access("public")
API_KEY_NOT_ALLOWED = (
    "API keys cannot manage the account; sign in (a key may call only routes that need a "
    "permission it holds)"
)


def route_access(
    view_functions: Mapping[str, Callable[..., object]], endpoint: str
) -> Access | None:
    """The access declared by the view of ``endpoint``, or ``None`` when it declares none."""
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC
    view = view_functions.get(endpoint)
    return access_of(view) if view is not None else None


def check_declared(app: Quart, owners: Mapping[str, str]) -> None:
    """Refuse ``app`` if any of its routes declares no access.

    :param owners: blueprint name → key of the plugin that registered it.
    :raises PluginError: the undeclared routes all belong to one plugin (naming it).
    :raises ConfigurationError: otherwise, naming every undeclared route and its owner.
    """
    missing: dict[str | None, list[str]] = {}
    for rule in app.url_map.iter_rules():
        if route_access(app.view_functions, rule.endpoint) is not None:
            continue
        plugin = owners.get(rule.endpoint.split(".", 1)[0])
        methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        missing.setdefault(plugin, []).append(f"{methods} {rule.rule}")
    if not missing:
        return
    listed = "; ".join(
        f"{f'plugin {plugin}' if plugin else 'core'}: {', '.join(routes)}"
        for plugin, routes in missing.items()
    )
    message = (
        f"routes without a declared access: {listed}. Decorate each view with "
        "medianest.sdk.public, signed_in or requires(Permission....)"
    )
    owners_at_fault = list(missing)
    if len(owners_at_fault) == 1 and owners_at_fault[0] is not None:
        raise PluginError(message, plugin=owners_at_fault[0])
    raise ConfigurationError(message)


@dataclass(frozen=True, slots=True)
class _Presented:
    """The credentials a request came with."""

    via: Literal["bearer", "cookie", "malformed"]
    token: str


Incoming = Request | Websocket


def install_guard(app: Quart, hub: Hub) -> None:
    """Resolve the caller and enforce each route's declared access before its view runs
    (HTTP requests and WebSocket handshakes alike)."""

    @app.before_request
    async def authorize() -> None:
        await _authorize(app, hub, request)

    @app.before_websocket
    async def authorize_websocket() -> None:
        await _authorize(app, hub, websocket)


async def _authorize(app: Quart, hub: Hub, incoming: Incoming) -> None:
    g.principal = g.current_user = g.session_id = g.authenticated_by = None
    rule = incoming.url_rule
    if rule is None:  # no such route or method: the 404/405 follows
        return
    if incoming.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
        return  # answered by Quart without running the view (CORS preflights)
    access = route_access(app.view_functions, rule.endpoint)
    if access is None:
        raise ConfigurationError(f"route {rule.rule} declares no access; refused")
    presented = _presented(incoming)
    if access.kind == "public":
        await _resolve_quietly(hub, incoming, presented)
        return
    if presented is None:
        raise InvalidCredentialsError("no credentials")
    await _resolve(hub, presented)
    if presented.via == "cookie" and not await _cookies_may_act(hub, incoming, g.session_id):
        raise _cookies_refused(incoming)
    if not access.api_keys and g.authenticated_by == "api_key":
        raise ApiKeyNotAllowedError(API_KEY_NOT_ALLOWED)
    if access.kind == "permission" and access.permission is not None:
        if not g.principal.has(access.permission):
            raise PermissionDeniedError(
                f"this needs the {access.permission} permission",
                permission=str(access.permission),
            )


def csrf_header_valid(hub: Hub, session_id: str | None, incoming: Incoming | None = None) -> bool:
    """True when the request's ``X-CSRF-Token`` equals its CSRF cookie and is the token of
    ``session_id`` (both compared in constant time)."""
    incoming = incoming if incoming is not None else request
    header = incoming.headers.get(CSRF_HEADER, "")
    cookie = incoming.cookies.get(CSRF_COOKIE, "")
    if not session_id or not header or not cookie:
        return False
    if not hmac.compare_digest(header.encode("utf-8"), cookie.encode("utf-8")):
        return False
    return hub.sessions.csrf.is_valid(session_id, header)


def require_csrf(hub: Hub, session_id: str | None) -> None:
    """:raises CsrfFailedError: the current request lacks the CSRF token of ``session_id``."""
    if not csrf_header_valid(hub, session_id):
        raise _cookies_refused(request)


def _presented(incoming: Incoming) -> _Presented | None:
    header = incoming.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _Presented("malformed", "")
        return _Presented("bearer", token)
    cookie = incoming.cookies.get(ACCESS_COOKIE)
    return _Presented("cookie", cookie) if cookie else None


def _may_use_cookies(hub: Hub, incoming: Incoming, session_id: str | None) -> bool:
    """Whether a cookie-authenticated request may act with the browser's authority.

    Safe HTTP methods may; unsafe ones need the session's CSRF token; a WebSocket handshake
    must come from a page of the hub itself (browsers always send its ``Origin``).
    """
    if isinstance(incoming, Websocket):
        return websocket_origin_allowed(hub, incoming)
    if incoming.method in SAFE_METHODS:
        return True
    return csrf_header_valid(hub, session_id, incoming)


def websocket_origin_allowed(hub: Hub, incoming: Websocket) -> bool:
    """Whether a WebSocket handshake comes from a page of the hub itself: its ``Origin`` is
    the host it was opened on or the configured public URL's (a missing ``Origin`` is not)."""
    origin = urlsplit(incoming.headers.get("Origin", ""))
    public_url = hub.settings.server.public_url
    allowed = {incoming.host.lower(), urlsplit(public_url).netloc.lower() if public_url else ""}
    return bool(origin.netloc) and origin.netloc.lower() in allowed


async def _cookies_may_act(hub: Hub, incoming: Incoming, session_id: str | None) -> bool:
    """:func:`_may_use_cookies`, or a form post of a page carrying the CSRF token."""
    if _may_use_cookies(hub, incoming, session_id):
        return True
    return await csrf_form_valid(hub, session_id, incoming)


async def csrf_form_valid(hub: Hub, session_id: str | None, incoming: Incoming) -> bool:
    """True when ``incoming`` is a form post whose ``csrf_token`` field is the token of
    ``session_id`` and equals the CSRF cookie (the pages' forms, which work without script)."""
    if isinstance(incoming, Websocket) or not session_id:
        return False
    if incoming.mimetype not in FORM_TYPES:
        return False
    form = await incoming.form
    field = form.get(CSRF_FORM_FIELD, "")
    cookie = incoming.cookies.get(CSRF_COOKIE, "")
    if not field or not cookie:
        return False
    if not hmac.compare_digest(field.encode("utf-8"), cookie.encode("utf-8")):
        return False
    return hub.sessions.csrf.is_valid(session_id, field)


def _cookies_refused(incoming: Incoming) -> CsrfFailedError:
    if isinstance(incoming, Websocket):
        return CsrfFailedError(
            "a WebSocket authenticated by cookies must be opened from this hub's own pages"
        )
    return CsrfFailedError(
        f"a request authenticated by cookies must send the {CSRF_COOKIE} cookie's value "
        f"in the {CSRF_HEADER} header"
    )


async def _resolve(hub: Hub, presented: _Presented) -> None:
    """Set the principal of ``presented``. :raises InvalidCredentialsError: they are not valid."""
    if presented.via == "malformed":
        raise InvalidCredentialsError("malformed Authorization header")
    if presented.via == "bearer" and api_keys.looks_like_key(presented.token):
        key = await api_keys.verify(presented.token)
        if key is None:
            raise InvalidCredentialsError("unknown, revoked or expired API key")
        g.current_user = key.user
        identities = await hub.sessions.users.identities(key.user.id)
        g.principal = principal_for(key.user, scopes=key.permissions, identities=identities)
        g.authenticated_by = "api_key"
        g.api_key_id = key.id
    else:
        user, claims = await hub.sessions.authenticate(presented.token)
        g.current_user = user
        g.principal = principal_for(user, identities=await hub.sessions.users.identities(user.id))
        g.session_id = claims.session_id
        g.authenticated_by = presented.via
    g.user_id = g.principal.user_id


async def _resolve_quietly(hub: Hub, incoming: Incoming, presented: _Presented | None) -> None:
    """On a public route: the principal when the credentials are valid, else anonymous.

    Cookies count only where they may act (see :func:`_may_use_cookies`): a public route
    must not act on a browser's ambient authority.
    """
    if presented is None or presented.via == "malformed":
        return
    try:
        await _resolve(hub, presented)
    except InvalidCredentialsError:
        return
    if presented.via == "cookie" and not await _cookies_may_act(hub, incoming, g.session_id):
        g.principal = g.current_user = g.session_id = g.authenticated_by = g.user_id = None
