"""Who is calling, by network address: the client IP of each request.

The client IP is the peer address, unless the peer is one of ``server.trusted_proxies``: then it
is the right-most ``X-Forwarded-For`` address that is not itself a trusted proxy (each trusted
proxy appends the address it received the request from, so everything to the right of the
first untrusted address was written by proxies we trust, and nothing to its left can be
believed). An ``X-Forwarded-For`` from an untrusted peer is ignored; a malformed one never
fails a request: the peer address is used instead.

:func:`install_client_ip` stores the result in ``g.client_ip`` for everything after it (rate
limits, sessions, the audit log).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from quart import Quart, g, request

from medianest.config import Settings

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

FORWARDED_FOR = "X-Forwarded-For"
MAX_FORWARDED_HOPS = 64
"""Entries of ``X-Forwarded-For`` looked at, from the right; a longer chain is cut there."""
UNKNOWN_PEER = "unknown"
INSTALLED = "medianest.client_ip"
"""The ``app.extensions`` key marking an app that resolves client IPs."""


def parse_address(text: str) -> Address | None:
    """``text`` as an IP address, or ``None`` when it is not one.

    Accepts what proxies write: a bare address, an IPv4 address with a port
    (``203.0.113.7:5120``), a bracketed IPv6 address with or without a port
    (``[2001:db8::1]:443``). An IPv4-mapped IPv6 address is returned as the IPv4 address.
    """
    text = text.strip()
    if text.startswith("["):
        text, closed, port = text[1:].partition("]")
        if not closed or (port and not (port[0] == ":" and port[1:].isdigit())):
            return None
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def resolve_client_ip(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The client IP of a request from ``peer`` carrying the ``forwarded_for`` header lines.

    :param peer: the address the connection came from (``request.remote_addr``).
    :param forwarded_for: every ``X-Forwarded-For`` header line, in the order received.
    :param trusted: the networks of the proxies whose ``X-Forwarded-For`` is believed.
    :returns: the client address in canonical text form; the peer as given when it is not an
        IP address (a Unix socket); ``"unknown"`` when there is no peer at all. Never raises.
    """
    peer_address = parse_address(peer) if peer else None
    if peer_address is None:
        return peer or UNKNOWN_PEER
    if not _is_trusted(peer_address, trusted):
        return str(peer_address)
    entries = [part for line in forwarded_for for part in line.split(",")]
    if not entries:
        return str(peer_address)
    client = peer_address
    for entry in reversed(entries[-MAX_FORWARDED_HOPS:]):
        hop = parse_address(entry)
        if hop is None:
            return str(peer_address)
        client = hop
        if not _is_trusted(hop, trusted):
            break
    return str(client)


def current_client_ip() -> str:
    """The client IP of the current request (``g.client_ip`` once the hook ran)."""
    known: str | None = g.get("client_ip")
    if known is not None:
        return known
    return request.remote_addr or UNKNOWN_PEER


def install_client_ip(app: Quart, settings: Settings) -> None:
    """Set ``g.client_ip`` at the start of every request of ``app``.

    Register it before any hook that reads the client IP (authentication, rate limits).
    Installing twice on one app does nothing the second time.
    """
    if INSTALLED in app.extensions:
        return
    app.extensions[INSTALLED] = True
    trusted: tuple[Network, ...] = tuple(settings.server.trusted_proxies)

    @app.before_request
    async def resolve_the_client_ip() -> None:
        g.client_ip = resolve_client_ip(
            request.remote_addr, request.headers.getlist(FORWARDED_FOR), trusted
        )


def _is_trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)
