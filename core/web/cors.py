"""CORS: which other web apps may call the hub from a browser (``server.cors_origins``).

None may by default: without configured origins no response carries a CORS header, and a
preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is refused with a
403 problem. With origins configured, a request from one of them gets its origin echoed in
``Access-Control-Allow-Origin`` with credentials allowed and the hub's own headers
(``X-Request-ID``, ``RateLimit-*``, ``Retry-After``) exposed; a preflight from one of them is
answered 204 before authentication, naming the methods and request headers the API accepts.
Responses then vary by ``Origin``. Origins are compared case-insensitively and exactly:
scheme, host and port.
"""

from __future__ import annotations

from collections.abc import Iterable

from quart import Quart, Response, request

from medianest.config import Settings
from medianest.core.web import problems

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-CSRF-Token", "X-Request-ID")
EXPOSED_HEADERS = (
    "X-Request-ID",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
    "Retry-After",
)
PREFLIGHT_MAX_AGE_SECONDS = 600
INSTALLED = "medianest.cors"
"""The ``app.extensions`` key marking an app with CORS installed."""


def normalise_origin(origin: str) -> str:
    """``origin`` as compared: lower case, without a trailing slash or a default port."""
    origin = origin.strip().rstrip("/").lower()
    for scheme, port in (("http://", ":80"), ("https://", ":443")):
        if origin.startswith(scheme) and origin.endswith(port):
            return origin[: -len(port)]
    return origin


class CorsPolicy:
    """The allow-list of origins, and the headers each kind of answer gets."""

    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = frozenset(normalise_origin(o) for o in origins)

    @property
    def enabled(self) -> bool:
        """Whether any origin is allowed."""
        return bool(self.origins)

    def allows(self, origin: str | None) -> bool:
        """Whether a browser at ``origin`` may call the hub (``null`` never may)."""
        return bool(origin) and normalise_origin(origin or "") in self.origins

    def preflight_headers(self, origin: str) -> dict[str, str]:
        """The headers of a 204 answer to an allowed origin's preflight."""
        return {
            **self.response_headers(origin),
            "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
            "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        }

    @staticmethod
    def response_headers(origin: str) -> dict[str, str]:
        """The headers of any answer to a request from the allowed ``origin``."""
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Expose-Headers": ", ".join(EXPOSED_HEADERS),
        }


def install_cors(app: Quart, settings: Settings) -> None:
    """Answer preflights and add CORS headers to the responses of ``app``.

    Register it before authentication: a preflight carries no credentials and must be
    answered without them. Installing twice on one app does nothing the second time.
    """
    if INSTALLED in app.extensions:
        return
    app.extensions[INSTALLED] = True
    policy = CorsPolicy(settings.server.cors_origins)

    @app.before_request
    async def answer_preflight() -> Response | None:
        if not _is_preflight():
            return None
        origin = request.headers["Origin"]
        if not policy.allows(origin):
            response = problems.problem(
                403,
                "cors_origin_not_allowed",
                "this origin may not call the hub from a browser",
                title="Origin not allowed",
            )
        else:
            response = Response(status=204)
            response.headers.update(policy.preflight_headers(origin))
        response.headers["Vary"] = "Origin"
        return response

    @app.after_request
    async def add_cors_headers(response: Response) -> Response:
        if not policy.enabled or _is_preflight():
            return response
        response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if policy.allows(origin):
            response.headers.update(policy.response_headers(origin or ""))
        return response


def _is_preflight() -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )
