"""Sign in with Plex against the simulated plex.tv and servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest
from plex_testkit import add_fault, approve, closed_port_url, settings_for

from medianest.sdk import (
    AuthenticationError,
    AuthProvider,
    Identity,
    UpstreamError,
    decode_cursor,
    encode_cursor,
    utcnow,
)
from medianest_plex.auth import PlexAuthProvider
from medianest_plex.plugin import PlexRuntime
from medianest_plex.settings import PlexSettings
from medianest_plex.simulator import PlexWorld, RunningSimulator


@pytest.fixture
def auth(runtime: PlexRuntime) -> PlexAuthProvider:
    return runtime.auth_provider()


async def sign_in(
    auth: PlexAuthProvider, control: httpx.AsyncClient, account: str
) -> Identity | None:
    challenge = await auth.start(forward_url="https://hub.example/signed-in")
    assert await auth.poll(challenge.handle) is None
    await approve(control, challenge.handle, account)
    return await auth.poll(challenge.handle)


async def test_challenge_points_at_the_plex_sign_in_page(
    auth: PlexAuthProvider, plex_settings: PlexSettings, plex_sim: RunningSimulator
) -> None:
    assert isinstance(auth, AuthProvider)
    assert (auth.id, auth.flow) == ("plex", "interactive")
    challenge = await auth.start(forward_url="https://hub.example/signed-in?x=1")
    base, _, fragment = challenge.url.partition("#?")
    assert base == plex_sim.auth_url
    assert "context%5Bdevice%5D%5Bproduct%5D=MediaNest" in fragment
    params = {k: v[0] for k, v in parse_qs(fragment).items()}
    assert params["clientID"] == plex_settings.client_identifier
    assert params["forwardUrl"] == "https://hub.example/signed-in?x=1"
    pin = plex_sim.world.pins[decode_cursor(challenge.handle)["id"]]
    assert params["code"] == pin.code and len(pin.code) == 25, "a strong PIN"
    assert challenge.expires_at > utcnow()
    assert challenge.handle != str(pin.id), "the handle is not just the guessable PIN id"


async def test_owner_signs_in_as_admin(
    auth: PlexAuthProvider, control: httpx.AsyncClient, plex_world: PlexWorld
) -> None:
    identity = await sign_in(auth, control, "owner")
    owner = plex_world.owner
    assert identity is not None
    assert identity.provider == "plex"
    assert identity.external_id == str(owner.id)
    assert identity.username == owner.username
    assert identity.email == owner.email
    assert identity.is_admin is True
    assert identity.credentials == {"plex_token": owner.token}
    assert identity.attributes["owned_servers"] == ["plex:home", "plex:cabin"]
    assert owner.token not in repr(identity)


async def test_friend_signs_in_without_admin(
    auth: PlexAuthProvider, control: httpx.AsyncClient, plex_world: PlexWorld
) -> None:
    identity = await sign_in(auth, control, "friend2")
    assert identity is not None
    assert identity.username == plex_world.accounts["friend2"].username
    assert identity.is_admin is False
    assert identity.attributes["servers"] == ["plex:home"]
    assert identity.credentials["plex_token"] == plex_world.accounts["friend2"].token


async def test_managed_home_user_signs_in(
    auth: PlexAuthProvider, control: httpx.AsyncClient, plex_world: PlexWorld
) -> None:
    identity = await sign_in(auth, control, "managed")
    managed = plex_world.accounts["managed"]
    assert identity is not None
    assert identity.username == managed.username
    assert identity.email is None
    assert identity.is_admin is False
    assert identity.attributes["managed"] is True and identity.attributes["home"] is True


async def test_stranger_is_refused_with_the_reason(
    auth: PlexAuthProvider, control: httpx.AsyncClient
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await sign_in(auth, control, "stranger")
    assert caught.value.message == "your Plex account has no access to this hub's Plex server(s)"


async def test_friend_of_an_unconfigured_server_is_refused(
    plex_sim: RunningSimulator, control: httpx.AsyncClient
) -> None:
    settings = settings_for(plex_sim)
    only_cabin = settings.model_copy(update={"servers": settings.servers[1:]})
    runtime = PlexRuntime.build(only_cabin)
    try:
        with pytest.raises(AuthenticationError, match="no access"):
            await sign_in(runtime.auth_provider(), control, "friend2")
    finally:
        await runtime.aclose()


async def test_approval_through_the_sign_in_page(
    auth: PlexAuthProvider, plex_sim: RunningSimulator, plex_settings: PlexSettings
) -> None:
    challenge = await auth.start()
    code = parse_qs(challenge.url.partition("#?")[2])["code"][0]
    async with httpx.AsyncClient() as browser:
        answer = await browser.post(
            f"{plex_sim.auth_url}/approve",
            json={"code": code, "clientID": plex_settings.client_identifier, "account": "friend1"},
        )
    assert answer.status_code == 200
    identity = await auth.poll(challenge.handle)
    assert identity is not None and identity.is_admin is False


async def test_expired_pin(auth: PlexAuthProvider, control: httpx.AsyncClient) -> None:
    challenge = await auth.start()
    await control.post("/clock", json={"advance": 4000})
    with pytest.raises(AuthenticationError) as caught:
        await auth.poll(challenge.handle)
    assert caught.value.message == "the Plex sign-in expired; start again"


async def test_tampered_handles_are_refused(auth: PlexAuthProvider) -> None:
    challenge = await auth.start()
    state = decode_cursor(challenge.handle)
    forged = encode_cursor({**state, "code": "a" * 25})
    for handle in (forged, "garbage-handle", encode_cursor({"v": 1, "id": "x", "code": "y"})):
        with pytest.raises(AuthenticationError, match="not valid; start again"):
            await auth.poll(handle)


async def test_typed_credentials_are_not_accepted(auth: PlexAuthProvider) -> None:
    with pytest.raises(AuthenticationError, match=r"happens on plex\.tv"):
        await auth.authenticate({"username": "a", "password": "b"})


async def test_plextv_failing_is_an_upstream_error(
    auth: PlexAuthProvider, control: httpx.AsyncClient
) -> None:
    await add_fault(control, mode="error", path="/api/v2/pins", status=503)
    with pytest.raises(UpstreamError, match=r"plex\.tv failed with HTTP 503"):
        await auth.start()


async def test_plextv_down_is_an_upstream_error(plex_sim: RunningSimulator) -> None:
    runtime = PlexRuntime.build(settings_for(plex_sim, plextv_url=closed_port_url()))
    try:
        with pytest.raises(UpstreamError, match=r"could not reach plex\.tv"):
            await runtime.auth_provider().start()
    finally:
        await runtime.aclose()


@pytest.fixture
async def unreachable_home(plex_sim: RunningSimulator) -> AsyncIterator[PlexAuthProvider]:
    settings = settings_for(plex_sim)
    servers = [s.model_copy(update={"url": closed_port_url()}) for s in settings.servers[:1]]
    runtime = PlexRuntime.build(settings.model_copy(update={"servers": servers}))
    try:
        yield runtime.auth_provider()
    finally:
        await runtime.aclose()


async def test_unreachable_servers_are_not_mistaken_for_no_access(
    unreachable_home: PlexAuthProvider, control: httpx.AsyncClient
) -> None:
    with pytest.raises(
        UpstreamError, match="could not check Plex access: plex:home did not answer"
    ):
        await sign_in(unreachable_home, control, "friend2")
