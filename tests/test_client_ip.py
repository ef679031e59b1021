"""The client IP: the peer, or the forwarded client only behind trusted proxies."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from medianest.core.auth import audit
from medianest.core.auth.client_ip import parse_address, resolve_client_ip
from medianest.core.db.models import AuditEvent
from medianest.sdk.access import public
from tests.security_testing import running_app

TRUSTED = [ip_network("10.0.0.0/8"), ip_network("2001:db8:ffff::/48")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["192.0.2.66, 198.51.100.1, 10.0.0.7"], "198.51.100.1"),
        ("10.0.0.2", ["192.0.2.66", "198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["10.1.1.1, 10.0.0.7"], "10.1.1.1"),
        ("10.0.0.2", ["198.51.100.1:5120"], "198.51.100.1"),
        ("10.0.0.2", ["[2001:db8::5]:443"], "2001:db8::5"),
        ("10.0.0.2", ["2001:DB8::5"], "2001:db8::5"),
        ("10.0.0.2", ["::ffff:198.51.100.1"], "198.51.100.1"),
        ("2001:db8:ffff::1", ["198.51.100.1"], "198.51.100.1"),
        ("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["evil.example, 198.51.100.1"], "198.51.100.1"),
    ],
)
def test_the_right_most_untrusted_address_is_the_client(peer, forwarded, client) -> None:
    assert resolve_client_ip(peer, forwarded, TRUSTED) == client


@pytest.mark.parametrize(
    "forwarded",
    [
        ["not an address"],
        ["198.51.100.1, garbage"],
        [""],
        [" , "],
        ["198.51.100.1,"],
        ["1.2.3.4.5"],
        ["[2001:db8::5"],
        ["\x00\xff"],
        ["198.51.100.1 " * 1000],
    ],
)
def test_a_malformed_forwarded_for_falls_back_to_the_peer(forwarded) -> None:
    assert resolve_client_ip("10.0.0.2", forwarded, TRUSTED) == "10.0.0.2"


def test_a_long_chain_of_trusted_hops_is_cut() -> None:
    chain = ", ".join(["198.51.100.1"] + ["10.0.0.9"] * 200)
    assert resolve_client_ip("10.0.0.2", [chain], TRUSTED) == "10.0.0.9"


def test_peers_that_are_not_addresses_are_kept_as_they_are() -> None:
    assert resolve_client_ip("<local>", ["198.51.100.1"], TRUSTED) == "<local>"
    assert resolve_client_ip(None, ["198.51.100.1"], TRUSTED) == "unknown"
    assert resolve_client_ip("203.0.113.9", ["198.51.100.1"], []) == "203.0.113.9"


def test_addresses_are_parsed_as_proxies_write_them() -> None:
    assert str(parse_address(" 192.0.2.1 ")) == "192.0.2.1"
    assert str(parse_address("[::1]")) == "::1"
    assert parse_address("example.org") is None
    assert parse_address("192.0.2.1:port") is None


async def test_requests_see_the_forwarded_client_only_through_trusted_proxies(
    tmp_path, mode
) -> None:
    settings = {**mode, "server": {"trusted_proxies": ["10.0.0.0/8"]}}
    async with running_app(tmp_path, **settings) as hub:

        async def seen(peer: str, forwarded: str | None) -> str:
            headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
            response = await hub.call("GET", "/api/v1/test/ping", ip=peer, headers=headers)
            assert response.status_code == 200
            return (await response.get_json())["client_ip"]

        assert await seen("10.0.0.2", "198.51.100.1, 10.0.0.3") == "198.51.100.1"
        assert await seen("203.0.113.9", "198.51.100.1") == "203.0.113.9"
        assert await seen("10.0.0.2", "%%%") == "10.0.0.2"
        assert await seen("10.0.0.2", None) == "10.0.0.2"


async def test_the_audit_log_records_the_client_ip(tmp_path) -> None:
    async with running_app(tmp_path, server={"trusted_proxies": ["10.0.0.0/8"]}) as hub:

        @hub.app.post("/api/v1/test/audited")
        @public
        async def audited() -> dict:
            await audit.record("test.audited")
            return {}

        response = await hub.call(
            "POST", "/api/v1/test/audited", ip="10.0.0.2", headers={"X-Forwarded-For": "192.0.2.8"}
        )
        assert response.status_code == 200
        with hub.hub.database.activate():
            event = await AuditEvent.get(action="test.audited")
        assert event.ip == "192.0.2.8"
