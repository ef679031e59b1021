"""Where webhooks may go: the rule against server-side request forgery.

A webhook URL is typed by a person, and the hub posts to it from inside the network it runs
in. Unless an admin allows private destinations (``webhook.allow_private_destinations``),
a destination whose host resolves to any address that is not public is refused: loopback,
private networks (RFC 1918), shared address space (100.64/10), link-local (169.254/16, and so
cloud metadata services; fe80::/10), unique-local (fc00::/7), site-local, multicast,
unspecified and reserved addresses, in IPv4 and IPv6 alike, IPv4 addresses hidden in IPv6
(``::ffff:127.0.0.1``, NAT64 ``64:ff9b::/96``, 6to4, Teredo) included.

The rule is checked twice: when the address is saved (:func:`check_destination`) and on
every delivery, at the moment of connecting (:class:`GuardedBackend`): the connection goes to
the very address that was checked, so a name that resolved to a public address when saved and
to a private one now (DNS rebinding) is refused too. Redirects are never followed, and
webhooks never go through a proxy from the environment.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx

from medianest.sdk import InvalidInputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class PrivateDestinationError(Exception):
    """The destination resolves to an address webhooks may not reach; the message says which
    kind, never the whole URL."""


def refusal(address: IPAddress) -> str | None:
    """Why webhooks may not reach ``address`` (``"loopback"``, ``"a private network"``...), or
    ``None`` for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            reason = refusal(embedded)
            return f"{reason} (inside an IPv6 address)" if reason else None
        if address in _UNIQUE_LOCAL:
            return "a unique-local network"
        if address.is_site_local:
            return "a site-local network"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "a link-local network"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared address space (carrier-grade NAT)"
    if address.is_reserved:
        return "a reserved range"
    if address.is_private:
        return "a private network"
    if not address.is_global:
        return "a reserved range"
    return None


def parse_url(url: str, *, field: str) -> SplitResult:
    """``url`` split, checked to be an ``http(s)`` URL with a host.

    :raises InvalidInputError: naming ``field``; the URL itself is not echoed (it may hold a
        token in its path).
    """
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidInputError(
            "the webhook URL contains spaces or control characters", field=field
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInputError(f"the webhook URL is malformed ({exc})", field=field) from exc
    if parts.scheme not in ("http", "https"):
        shown = parts.scheme[:20] or "none"
        raise InvalidInputError(
            f"the webhook URL must start with http:// or https:// (its scheme is {shown!r})",
            field=field,
        )
    if not parts.hostname:
        raise InvalidInputError("the webhook URL has no host", field=field)
    if port == 0:
        raise InvalidInputError("the webhook URL's port must not be 0", field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidInputError(
            "the webhook URL must not carry a user name or password; use the signing secret",
            field=field,
        )
    if parts.fragment:
        raise InvalidInputError("the webhook URL must not have a #fragment", field=field)
    return parts


def label(parts: SplitResult) -> str:
    """How messages name a destination: scheme, host and port only (paths may hold tokens)."""
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (a literal address resolves to itself).

    :raises OSError: the name does not resolve.
    """
    literal = _literal(host)
    if literal is not None:
        return [literal]
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise OSError(f"{host} has no address")
    return found


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def refuse_private(host: str, addresses: Iterable[IPAddress]) -> None:
    """Raise when any of ``addresses`` is not public.

    :raises PrivateDestinationError: naming the host and the kind of address.
    """
    for address in addresses:
        reason = refusal(address)
        if reason:
            raise PrivateDestinationError(
                f"the host {host} resolves to {reason} ({address}); deliveries to the hub's "
                "own network are refused unless an admin allows private destinations"
            )


async def check_destination(url: str, *, allow_private: bool, field: str) -> SplitResult:
    """``url`` checked as a webhook destination: a proper ``http(s)`` URL whose host resolves
    and, unless ``allow_private``, only to public addresses. No request is sent.

    :raises InvalidInputError: naming ``field`` and the problem.
    """
    parts = parse_url(url, field=field)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise InvalidInputError(f"the host {host[:100]} does not resolve", field=field) from exc
    if not allow_private:
        try:
            refuse_private(host, addresses)
        except PrivateDestinationError as exc:
            raise InvalidInputError(str(exc), field=field) from exc
    return parts


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to checked addresses: resolves the host itself, refuses it when any
    address is not public (unless allowed), then connects to an address it checked."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"the host name does not resolve: {host}") from exc
        if not self.allow_private:
            refuse_private(host, addresses)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks do not connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport over :class:`GuardedBackend`, ignoring proxies from the
    environment (a proxy would connect to the destination in our place, unchecked)."""

    def __init__(self, *, allow_private: bool, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        context = (
            verify
            if isinstance(verify, ssl.SSLContext)
            else httpx.create_ssl_context(verify=verify, trust_env=False)
        )
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=50,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow_private=allow_private),
        )
