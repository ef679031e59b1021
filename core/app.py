"""The web app factory: ``create_app(settings)`` builds a Quart app around a new hub.

No module-global app or plugin manager: every call builds its own. The app starts the hub in
``before_serving`` and closes it in ``after_serving``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import structlog
from quart import Quart, Response, g, request
from quart_schema import QuartSchema, RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from medianest.config import Settings, load_settings
from medianest.core import tracing
from medianest.core.auth.client_ip import install_client_ip
from medianest.core.auth.ratelimit import install_rate_limits
from medianest.core.db.outage import unavailable as database_outage
from medianest.core.hub import Hub, build_hub
from medianest.core.serving import STARTUP_ERROR
from medianest.core.web import (
    api_keys_api,
    audit_api,
    flags_api,
    media_api,
    notifications_api,
    problems,
    requests_api,
    search_api,
    sync_api,
    users_api,
)
from medianest.core.web.cors import install_cors
from medianest.core.web.drain import install_drain
from medianest.core.web.guard import check_declared, install_guard
from medianest.core.web.hosts import install_host_check
from medianest.core.web.keep_alive import install_keep_alive
from medianest.core.web.live import install_live
from medianest.core.web.openapi import HubOpenAPIProvider
from medianest.core.web.pages import install_pages
from medianest.core.web.pages.shell import API_CSP, PAGE_CSP
from medianest.core.web.path_ids import install_path_id_check, install_path_ids
from medianest.core.web.request import HubRequest, install_query_text_check
from medianest.core.web.sessions_api import sessions_api
from medianest.core.web.signin import signin
from medianest.core.web.system import api, health, metrics
from medianest.sdk.errors import ConfigurationError, MediaNestError
from medianest.sdk.web import HUB_EXTENSION

log = structlog.get_logger(__name__)

API_PREFIX = "/api/v1"
REQUEST_ID_HEADER = "X-Request-ID"
BODILESS_STATUSES = frozenset({204, 304})
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class HubApp(Quart):
    """The hub's Quart app: a settings or schema problem that stops it starting is logged as
    its message (the command then says it), not as a traceback."""

    def log_exception(self, exception_info: Any) -> None:
        if isinstance(exception_info[1], ConfigurationError):
            log.error("the hub cannot start", error=str(exception_info[1]))
            return
        super().log_exception(exception_info)


def create_app(
    settings: Settings | None = None,
    *,
    plugins: Mapping[str, object] | None = None,
    autoload: bool = True,
    migrate: bool | None = None,
) -> Quart:
    """Build the app and its hub.

    :param settings: default: :func:`medianest.config.load_settings`.
    :param plugins: plugin objects to register directly (tests, embedding), by key.
    :param autoload: discover installed plugins through their entry points.
    :param migrate: apply pending migrations at start; default: in embedded mode.
    :raises ConfigurationError: settings or plugins are wrong, or a route declares no access
        (the message names the culprit).
    """
    settings = settings or load_settings()
    tracing.configure_tracing()
    hub = build_hub(settings, plugins=plugins, autoload=autoload)
    app = HubApp(__name__)
    app.request_class = HubRequest
    install_path_ids(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.server.max_body_bytes
    app.extensions[HUB_EXTENSION] = hub
    QuartSchema(
        app,
        openapi_path=f"{API_PREFIX}/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        info={"title": "MediaNest", "version": _version()},
        openapi_provider_class=HubOpenAPIProvider,
    )
    auto_migrate = settings.mode == "embedded" if migrate is None else migrate

    @app.before_serving
    async def start_hub() -> None:
        try:
            await hub.start(migrate=auto_migrate)
        except MediaNestError as exc:
            app.extensions[STARTUP_ERROR] = exc
            raise
        log.info("hub started", mode=hub.mode, plugins=[p.key for p in hub.host.enabled()])

    @app.after_serving
    async def stop_hub() -> None:
        await hub.close()

    # Order matters: the Host check before anything reads the host, the client IP next (the
    # guard, sessions and audit read it), CORS preflights before authentication, rate limits
    # after it (per-user limits need the principal the guard resolves).
    _install_request_hooks(app, hub)
    install_host_check(app, settings)
    install_client_ip(app, settings)
    install_cors(app, settings)
    install_guard(app, hub)
    install_rate_limits(app, hub)
    install_path_id_check(app)
    install_query_text_check(app)
    install_keep_alive(app)
    _install_error_handlers(app)
    app.register_blueprint(health)
    app.register_blueprint(metrics)
    app.register_blueprint(api)
    app.register_blueprint(signin)
    app.register_blueprint(sessions_api)
    for admin in (
        users_api,
        api_keys_api,
        audit_api,
        flags_api,
        sync_api,
        search_api,
        media_api,
        requests_api,
        notifications_api,
    ):
        app.register_blueprint(admin.blueprint)
    install_pages(app, hub)
    install_live(app, hub)
    install_drain(app)
    owners: dict[str, str] = {}
    for key, blueprint in hub.blueprints:
        name = f"plugin_{key}_{blueprint.name}"
        app.register_blueprint(blueprint, url_prefix=f"{API_PREFIX}/plugins/{key}", name=name)
        owners[name] = key
    check_declared(app, owners)
    tracing.wrap_asgi(app)
    return app


def hub_of(app: Quart) -> Hub:
    """The hub behind ``app``."""
    hub: Hub = app.extensions[HUB_EXTENSION]
    return hub


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("medianest")
    except PackageNotFoundError:
        return "0+unknown"


def _install_request_hooks(app: Quart, hub: Hub) -> None:
    @app.before_request
    async def begin() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)
        hub.database.enter()

    @app.before_websocket
    async def begin_websocket() -> None:
        hub.database.enter()  # the access check and the handler use the hub's database

    @app.after_request
    async def finish(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        await problems.add_request_id(response, request_id)
        if response.status_code in BODILESS_STATUSES:
            _drop_body(response)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        is_page = (response.mimetype or "").startswith("text/html")
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP if is_page else API_CSP)
        if request.scheme == "https":
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
            )
        route = request.url_rule.rule if request.url_rule else "unmatched"
        duration = time.perf_counter() - g.get("started", time.perf_counter())
        hub.metrics.http_requests.labels(request.method, route, str(response.status_code)).observe(
            duration
        )
        log.info(
            "request",
            method=request.method,
            route=route,  # the pattern, never the path: paths can carry secrets
            status=response.status_code,
            duration_ms=round(duration * 1000, 2),
            user_id=g.get("user_id"),
        )
        return response


def _drop_body(response: Response) -> None:
    """A 204 or 304 carries no body, so no type of one (Quart gives every answer text/html)."""
    response.set_data(b"")
    for name in ("Content-Type", "Content-Length"):
        response.headers.pop(name, None)


def _install_error_handlers(app: Quart) -> None:
    @app.errorhandler(RequestSchemaValidationError)
    async def schema_error(error: RequestSchemaValidationError) -> Response:
        return problems.from_validation_error(error)

    @app.errorhandler(MediaNestError)
    async def medianest_error(error: MediaNestError) -> Response:
        return problems.from_medianest_error(error)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        return problems.from_http_exception(error)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        outage = database_outage(error)
        if outage is not None:
            return problems.from_medianest_error(outage)
        log.exception("unhandled error", error_type=type(error).__name__)
        return problems.internal_error()
