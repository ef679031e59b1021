"""The webhook blueprint, mounted in a small Quart app served over real HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from plex_testkit import FakeHub, serve_app
from quart import Quart

from medianest_plex.client import ClientIdentity
from medianest_plex.plugin import PlexRuntime
from medianest_plex.settings import PlexSettings
from medianest_plex.simulator import Kind, RunningSimulator
from medianest_plex.source import PlexMediaSource
from medianest_plex.webhooks import make_blueprint

SECRET = "hook-secret-0123456789"
HOME_UUID = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
PREFIX = "/api/v1/plugins/plex"
HOOK = f"{PREFIX}/webhook/{SECRET}"


def hub_app(settings: PlexSettings, hub: FakeHub) -> Quart:
    """What core does with the plugin's blueprint, reduced to the essentials."""
    app = Quart("hub-under-test")
    app.register_blueprint(make_blueprint(settings), url_prefix=PREFIX)
    app.extensions["medianest.hub"] = hub
    return app


@dataclass
class Env:
    hub: FakeHub
    http: httpx.AsyncClient


def offline_settings(secret: str | None = SECRET) -> PlexSettings:
    server = {
        "name": "home",
        "url": "http://pms.invalid:32400",
        "token": "owner-token",
        "machine_identifier": HOME_UUID,
    }
    return PlexSettings(servers=[server], webhook_secret=secret)


async def serve_env(settings: PlexSettings, hub: FakeHub) -> AsyncIterator[Env]:
    async with serve_app(hub_app(settings, hub)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            yield Env(hub=hub, http=http)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    settings = offline_settings()
    source = PlexMediaSource(
        settings.servers[0],
        identity=ClientIdentity("t", "MediaNest"),
        page_size=10,
        overlap_seconds=0,
    )
    try:
        async for served in serve_env(settings, FakeHub(providers={source.id: source})):
            yield served
    finally:
        await source.aclose()


def payload(event: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": event,
        "user": True,
        "owner": False,
        "Account": {"id": 7, "title": "gracedelacroix36", "thumb": "https://plex.tv/a"},
        "Server": {"title": "Home", "uuid": HOME_UUID},
        "Player": {"title": "Living Room", "uuid": "p-1", "local": True},
        "Metadata": {"ratingKey": "123", "type": "movie", "title": "The Silent Harbor"},
    }
    body.update(extra)
    return body


async def post(env: Env, body: Any, *, path: str = HOOK, thumb: bool = False) -> httpx.Response:
    raw = body if isinstance(body, str) else json.dumps(body)
    files: dict[str, Any] = {"payload": (None, raw.encode())}
    if thumb:
        files["thumb"] = ("thumb.jpg", b"\xff\xd8\xff", "image/jpeg")
    return await env.http.post(path, files=files)


def assert_problem(response: httpx.Response, status: int, detail: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"]
    assert body["code"].startswith("plex.webhook.")
    assert body["type"] == f"urn:medianest:problem:{body['code']}"
    assert detail in body["detail"]


async def test_library_new_queues_an_incremental_sync(env: Env) -> None:
    response = await post(env, payload("library.new"), thumb=True)
    assert response.status_code == 202
    assert response.json()["source"] == "plex:home"
    assert env.hub.sync_requests == [("plex:home", False)]
    assert env.hub.events == []


@pytest.mark.parametrize(
    "event", ["media.play", "media.pause", "media.resume", "media.stop", "media.scrobble"]
)
async def test_playback_becomes_a_domain_event(env: Env, event: str) -> None:
    response = await post(env, payload(event))
    assert response.status_code == 202
    [emitted] = env.hub.events
    assert emitted.type == event
    assert emitted.source == "plex:home"
    assert emitted.item is not None
    assert (emitted.item.source, emitted.item.item_id) == ("plex:home", "123")
    assert emitted.data["account"] == {"id": 7, "title": "gracedelacroix36"}
    assert emitted.data["player"] == {"title": "Living Room", "uuid": "p-1", "local": True}
    assert emitted.data["media"]["title"] == "The Silent Harbor"
    assert emitted.data["owner"] is False
    assert env.hub.sync_requests == []


@pytest.mark.parametrize("event", ["media.rate", "library.on.deck", "admin.database.backup"])
async def test_other_events_are_acknowledged_and_ignored(env: Env, event: str) -> None:
    response = await post(env, payload(event))
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert env.hub.events == [] and env.hub.sync_requests == []


async def test_events_from_an_unknown_server_are_ignored(env: Env) -> None:
    body = payload("library.new", Server={"title": "Other", "uuid": "f" * 40})
    response = await post(env, body)
    assert response.status_code == 202 and response.json()["reason"] == "unknown server"
    assert env.hub.sync_requests == []


async def test_wrong_secret_is_not_found(env: Env) -> None:
    response = await post(env, payload("library.new"), path=f"{PREFIX}/webhook/{'x' * 22}")
    assert_problem(response, 404, "there is no webhook here")
    assert env.hub.sync_requests == []


async def test_switched_off_webhooks_are_not_found(env: Env) -> None:
    env.hub.flags.values["plex.webhooks"] = False
    assert_problem(await post(env, payload("library.new")), 404, "switched off")
    assert env.hub.sync_requests == []


async def test_webhooks_without_a_secret_are_not_found() -> None:
    async for env in serve_env(offline_settings(secret=None), FakeHub()):
        response = await post(env, payload("library.new"), path=f"{PREFIX}/webhook/anything")
        assert_problem(response, 404, "there is no webhook here")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("{not json", "the payload field is not valid JSON"),
        ("[" * 100_000, "the payload field is not valid JSON"),
        ('{"event": "library.new", "Server": {"uuid": "\\ud800"}}', "not UTF-8 text"),
        ('{"event": "media.play", "\\udfff": 1}', "not UTF-8 text"),
        ("[1, 2]", "the payload field is not a JSON object"),
        ({"Server": {"uuid": HOME_UUID}}, "the payload has no event name"),
        (payload("library.new", Server={}), "a library.new payload needs Server.uuid"),
        (payload("media.play", Metadata={}), "a media.play payload needs Metadata.ratingKey"),
        (payload("media.play", Server="home"), "Server is not a JSON object"),
    ],
)
async def test_malformed_payloads_are_bad_requests(env: Env, body: Any, detail: str) -> None:
    assert_problem(await post(env, body), 400, detail)
    assert env.hub.events == [] and env.hub.sync_requests == []


async def test_a_body_that_is_not_multipart_is_a_bad_request(env: Env) -> None:
    response = await env.http.post(HOOK, json=payload("library.new"))
    assert_problem(response, 400, "expected multipart/form-data with a payload field")


async def test_multipart_without_payload_is_a_bad_request(env: Env) -> None:
    response = await env.http.post(HOOK, files={"other": (None, b"x")})
    assert_problem(response, 400, "the multipart body has no payload field")


async def test_each_kind_of_problem_is_logged_once(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="medianest_plex"):
        for _ in range(3):
            await post(env, "{not json")
        await env.http.post(HOOK, files={"other": (None, b"x")})
    messages = [r.getMessage() for r in caplog.records]
    assert sum("not valid JSON" in m for m in messages) == 1
    assert sum("no payload field" in m for m in messages) == 1


async def test_a_refused_sync_is_accepted_and_logged_once(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.hub.syncable = set()
    with caplog.at_level(logging.WARNING, logger="medianest_plex"):
        for _ in range(2):
            assert (await post(env, payload("library.new"))).status_code == 202
    assert len(env.hub.sync_requests) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert sum("cannot start a sync" in m and "plex:home" in m for m in messages) == 1


async def test_the_simulator_fires_webhooks_at_the_hub(plex_sim: RunningSimulator) -> None:
    settings = PlexSettings(
        servers=[
            {"name": slug, "url": url, "token": plex_sim.world.owner.token}
            for slug, url in plex_sim.server_urls.items()
        ],
        webhook_secret=SECRET,
    )
    runtime = PlexRuntime.build(settings)
    hub = FakeHub(providers={s.id: s for s in runtime.sources})
    try:
        async with serve_app(hub_app(settings, hub)) as url:
            async with httpx.AsyncClient(base_url=plex_sim.control_url, timeout=10) as control:
                await control.post("/webhooks", json={"url": f"{url}{HOOK}"})
                movie = plex_sim.world.servers[1].library.of_kind(1, Kind.MOVIE)[0]
                fired = await control.post(
                    "/webhooks/fire",
                    json={
                        "event": "media.play",
                        "server": "cabin",
                        "ratingKey": movie.rating_key,
                        "account": "friend1",
                        "thumb": True,
                    },
                )
                await control.post(
                    "/webhooks/fire", json={"event": "library.new", "server": "home"}
                )
        assert [d["status"] for d in fired.json()["deliveries"]] == [202]
        [event] = hub.events
        assert event.type == "media.play" and event.source == "plex:cabin"
        assert event.item is not None and event.item.item_id == str(movie.rating_key)
        assert hub.sync_requests == [("plex:home", False)]
    finally:
        await runtime.aclose()
