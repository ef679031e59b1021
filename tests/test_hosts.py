"""The hub's origin comes from its settings: a ``Host`` header it does not own is refused
before anything (a redirect, a sign-in ``forward_url`` check) is built on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from medianest.config import SettingsError, load_settings
from medianest.core.web.hosts import allowed_hosts, host_name
from tests.test_signin import KEY, DoorPlugin

PROBLEM = "application/problem+json"
START = "/api/v1/auth/providers/door/start"


@pytest.fixture
def door() -> DoorPlugin:
    return DoorPlugin()


@pytest.fixture
async def running(medianest_hub, mode, door) -> AsyncIterator:
    async with medianest_hub.run({"door": door}, **mode | {"secret_key": KEY}) as hub:
        yield hub


async def test_a_foreign_host_gets_no_redirect_to_itself(running) -> None:
    response = await running.client.get("/static//signin.css", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert "Location" not in response.headers
    problem = await response.get_json()
    assert problem["code"] == "host_not_allowed"
    assert "evil.example" in problem["detail"] and "server.public_url" in problem["detail"]


async def test_the_hubs_own_host_still_gets_its_redirects(running) -> None:
    response = await running.client.get("/static//signin.css", headers={"Host": "localhost:8080"})
    assert response.status_code in (301, 308)
    assert response.headers["Location"].startswith("http://localhost:8080/")


async def test_sign_in_does_not_take_its_origin_from_a_foreign_host(running, door) -> None:
    response = await running.client.post(
        START, json={"forward_url": "http://evil.example/"}, headers={"Host": "evil.example"}
    )
    assert response.status_code == 400
    assert (await response.get_json())["code"] == "host_not_allowed"
    assert door.provider.forward_urls == []


@pytest.mark.parametrize("host", ["evil.example", "localhost@evil.example", "a b", "", "x:99999"])
async def test_every_api_route_refuses_hosts_it_does_not_own(running, host) -> None:
    response = await running.client.get("/api/v1/me", headers={"Host": host})
    assert response.status_code == 400
    assert (await response.get_json())["code"] == "host_not_allowed"


async def test_probes_and_scrapers_may_address_the_hub_by_any_name(running) -> None:
    live = await running.client.get("/health/live", headers={"Host": "10.1.2.3:8080"})
    ready = await running.client.get("/health/ready", headers={"Host": "10.1.2.3:8080"})
    assert live.status_code == 200 and ready.status_code == 200
    metrics = await running.client.get("/metrics", headers={"Host": "10.1.2.3:8080"})
    assert metrics.status_code == 401  # not a host problem: it needs a sign-in


async def test_the_public_url_and_allowed_hosts_name_the_hub(medianest_hub, door) -> None:
    async with medianest_hub.run(
        {"door": door},
        secret_key=KEY,
        server={"public_url": "https://media.example.org", "allowed_hosts": ["nas.lan"]},
    ) as hub:
        public = await hub.client.post(
            START, json={"forward_url": "/sign-in"}, headers={"Host": "media.example.org"}
        )
        lan = await hub.client.post(
            START, json={"forward_url": "/sign-in"}, headers={"Host": "NAS.lan:8080"}
        )
        other = await hub.client.post(
            START, json={"forward_url": "/sign-in"}, headers={"Host": "evil.example"}
        )
    assert (public.status_code, lan.status_code, other.status_code) == (200, 200, 400)
    # The origin handed to the provider is the public URL's, whatever name was used.
    assert door.provider.forward_urls == ["https://media.example.org/sign-in"] * 2


def test_without_a_public_url_the_hub_owns_loopback_and_its_bind_address(tmp_path) -> None:
    embedded = load_settings(data_dir=tmp_path)
    assert allowed_hosts(embedded) == {"localhost", "127.0.0.1", "::1"}
    lan = load_settings(data_dir=tmp_path, server={"host": "192.168.1.10"})
    assert "192.168.1.10" in allowed_hosts(lan)
    everywhere = load_settings(data_dir=tmp_path, server={"host": "0.0.0.0"})
    assert allowed_hosts(everywhere) == {"localhost", "127.0.0.1", "::1"}


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Example.ORG:8080", "example.org"),
        ("[::1]:8080", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("evil.example/x", None),
        ("user@evil.example", None),
        ("évil.example", None),
        ("", None),
        ("host:0", None),
    ],
)
def test_host_headers_are_parsed_strictly(header, name) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("public_url", "media.example.org"),
        ("public_url", "ftp://media.example.org"),
        ("public_url", "https://media.example.org:99999"),
        ("allowed_hosts", ["https://nas.lan"]),
        ("allowed_hosts", ["nas.lan/x"]),
    ],
)
def test_malformed_origin_settings_are_refused_naming_them(tmp_path, setting, value) -> None:
    with pytest.raises(SettingsError, match=setting):
        load_settings(data_dir=tmp_path, server={setting: value})
