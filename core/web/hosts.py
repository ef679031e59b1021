"""The hub's own host names: a request's ``Host`` header is believed only when it is one.

Redirects, sign-in ``forward_url`` checks and the WebSocket ``Origin`` check build on the
host a request came to. A client can send any ``Host``, so :func:`install_host_check`
refuses (400 ``host_not_allowed``) every request and WebSocket handshake whose ``Host`` is not
one of :func:`allowed_hosts`, before anything reads it. Health probes and the metrics
scraper are the exception: orchestrators address them by a pod's IP, and they build no URL.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from quart import Quart, Request, Websocket, request, websocket

from medianest.config import Settings
from medianest.sdk.errors import InvalidInputError

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""Names a hub always answers to: the machine it runs on (no other site can be reached by
them, so a browser never sends them on another site's behalf)."""
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "*"})  # noqa: S104 - names, not a bind
ANY_HOST_ENDPOINTS = frozenset({"health.live", "health.ready", "metrics.prometheus"})
"""Endpoints answered whatever the ``Host``: probes and scrapers, which build no URL."""


class HostNotAllowedError(InvalidInputError):
    """The request's ``Host`` is not one of the hub's own names."""

    code = "host_not_allowed"


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """The host names (lower case, IPv6 without brackets, no port) the hub answers to.

    The loopback names, ``server.allowed_hosts``, and the host of ``server.public_url``, or
    without it the address ``serve`` binds to (unless it binds every address): the demo and
    a hub opened on its own machine work with no setting at all.
    """
    server = settings.server
    hosts = set(LOOPBACK_HOSTS) | {_normalise(host) for host in server.allowed_hosts}
    if server.public_url:
        hosts.add(_normalise(urlsplit(server.public_url).hostname or ""))
    elif server.host not in WILDCARD_BINDS:
        hosts.add(_normalise(server.host))
    hosts.discard("")
    return frozenset(hosts)


def host_name(host_header: str) -> str | None:
    """The host name of a ``Host`` header value (``name[:port]`` or ``[v6]:port``), or
    ``None`` when it is not a well-formed one."""
    value = host_header.strip()
    if not value or any(ch in value for ch in "/\\@?#% \t\r\n") or not value.isascii():
        return None
    try:
        parts = urlsplit(f"//{value}")
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name or (port is not None and not 1 <= port <= 65535):
        return None
    return _normalise(name)


def install_host_check(app: Quart, settings: Settings) -> None:
    """Refuse requests and WebSocket handshakes to a ``Host`` the hub does not own.

    Install it before every other hook: nothing may read the host of a request it refuses.
    """
    hosts = allowed_hosts(settings)

    @app.before_request
    async def check_host() -> None:
        _check(request, hosts, settings)

    @app.before_websocket
    async def check_websocket_host() -> None:
        _check(websocket, hosts, settings)


def _check(incoming: Request | Websocket, hosts: frozenset[str], settings: Settings) -> None:
    rule = incoming.url_rule
    if rule is not None and incoming.routing_exception is None:
        if rule.endpoint in ANY_HOST_ENDPOINTS:
            return
    header = incoming.headers.get("Host", "")
    name = host_name(header)
    if name is not None and name in hosts:
        return
    shown = header if len(header) <= 100 else header[:100] + "…"
    advice = (
        "list it in server.allowed_hosts (MEDIANEST_SERVER__ALLOWED_HOSTS)"
        if settings.server.public_url
        else "set server.public_url (MEDIANEST_SERVER__PUBLIC_URL) to the address people "
        "open, or list the name in server.allowed_hosts (MEDIANEST_SERVER__ALLOWED_HOSTS)"
    )
    raise HostNotAllowedError(
        f"the Host header {shown!r} is not one of this hub's names "
        f"({', '.join(sorted(hosts))}); {advice}",
        field="Host",
    )


def _normalise(host: str) -> str:
    name = host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name
