"""The app factory: one Quart app per served port.

The first server's app also plays plex.tv (``/api/v2/...``) and its approval page
(``/auth``); every app carries the ``/__sim`` control API. Fault rules apply to everything
but the control API.
"""

from __future__ import annotations

import asyncio

from quart import Quart, Response, g, request
from werkzeug.exceptions import HTTPException

from medianest_plex.simulator.authpage import build_auth_blueprint
from medianest_plex.simulator.control import PREFIX, build_control_blueprint
from medianest_plex.simulator.faults import FaultMode, FaultRule
from medianest_plex.simulator.images import build_images_blueprint
from medianest_plex.simulator.plextv import build_plextv_blueprint
from medianest_plex.simulator.pms import build_pms_blueprint
from medianest_plex.simulator.query import BadRequest
from medianest_plex.simulator.servers import SimServer
from medianest_plex.simulator.web import plextv_error, pms_error, problem
from medianest_plex.simulator.world import PlexWorld

PLEXTV_PREFIX = "/api/v2/"


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _is_plextv(path: str) -> bool:
    return path.startswith(PLEXTV_PREFIX)


def error_response(status: int, message: str) -> Response:
    """An error in the dialect of the route family the current request belongs to."""
    path = request.path
    if path.startswith(PREFIX) or path == "/auth/approve":
        return problem(status, message)
    if _is_plextv(path):
        return plextv_error(request, status, 1000 if status == 400 else status, message)
    return pms_error(status, _TITLES.get(status, "Error"), message)


def _fault_response(rule: FaultRule) -> Response:
    if rule.mode == FaultMode.RATE_LIMIT:
        response = error_response(429, "Too many requests, slow down")
        response.headers["Retry-After"] = str(rule.retry_after)
        return response
    return error_response(rule.status, "Injected failure")


def create_app(
    world: PlexWorld,
    server: SimServer | str | int = 0,
    *,
    plextv: bool = True,
    control: bool = True,
) -> Quart:
    """An ASGI app serving ``server``'s PMS routes over ``world``.

    :param plextv: also serve the plex.tv routes and the ``/auth`` approval page.
    :param control: also serve the ``/__sim`` control API.
    """
    srv = world.server(server)
    app = Quart(f"medianest_plex.simulator.{srv.slug}")
    app.url_map.strict_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    if plextv:
        app.register_blueprint(build_plextv_blueprint(world))
        app.register_blueprint(build_auth_blueprint(world))
    if control:
        app.register_blueprint(build_control_blueprint(world))
    app.register_blueprint(build_pms_blueprint(world, srv))
    app.register_blueprint(build_images_blueprint(srv))

    @app.before_request
    async def inject_faults() -> Response | None:
        if request.path.startswith(PREFIX):
            return None
        decision = world.faults.decide(request.path, request.method)
        if decision.delay_ms:
            await asyncio.sleep(decision.delay_ms / 1000)
        if decision.hang is not None:
            await world.faults.hold(decision.hang)
        if decision.reject is not None:
            return _fault_response(decision.reject)
        g.malformed = decision.malformed
        return None

    @app.after_request
    async def corrupt_body(response: Response) -> Response:
        if g.get("malformed"):
            body = await response.get_data()
            response.set_data(body[: max(1, len(body) // 2)])
            response.status_code = 200
        return response

    @app.errorhandler(BadRequest)
    async def bad_request(error: BadRequest) -> Response:
        return error_response(400, str(error))

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        response = error_response(status, error.description or _TITLES.get(status, "Error"))
        for name, value in error.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
        return response

    return app
