"""Webhooks: the real default template, sent in the background with the configured
Authorization header when a request changes state; failures are logged, never blocking."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from ovsim_support import WebhookReceiver

from medianest_overseerr.simulator import (
    DEFAULT_JSON_PAYLOAD,
    DEFAULT_TEMPLATE,
    Notification,
    OverseerrWorld,
    RunningOverseerr,
    decode_template,
    encode_template,
)
from medianest_overseerr.simulator.catalogue import MOVIE, TV

FRIEND = {"X-Api-User": "2"}
TYPES = (
    Notification.MEDIA_PENDING
    | Notification.MEDIA_APPROVED
    | Notification.MEDIA_AVAILABLE
    | Notification.MEDIA_DECLINED
    | Notification.MEDIA_FAILED
    | Notification.MEDIA_AUTO_APPROVED
)


async def configure(
    api: httpx.AsyncClient,
    url: str,
    *,
    types: int = int(TYPES),
    auth: str = "Bearer hub-secret",
    payload: str = DEFAULT_JSON_PAYLOAD,
) -> None:
    answer = await api.post(
        "/settings/notifications/webhook",
        json={
            "enabled": True,
            "types": types,
            "options": {"webhookUrl": url, "jsonPayload": payload, "authHeader": auth},
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["options"]["authHeader"] == auth


def test_the_default_payload_is_overseerrs() -> None:
    # base64 of a JSON string holding the template, as settings.ts ships it
    inner = json.loads(base64.b64decode(DEFAULT_JSON_PAYLOAD))
    assert isinstance(inner, str)
    assert json.loads(inner) == DEFAULT_TEMPLATE
    assert decode_template(encode_template(DEFAULT_TEMPLATE)) == DEFAULT_TEMPLATE
    with pytest.raises(ValueError, match="jsonPayload"):
        decode_template("not base64!")


async def test_state_changes_post_the_template(
    api: httpx.AsyncClient,
    ov_sim: RunningOverseerr,
    ov_world: OverseerrWorld,
    receiver: WebhookReceiver,
) -> None:
    await configure(api, receiver.url)
    movie = next(t for t in ov_world.catalogue.requestable_only() if t.media_type == MOVIE)
    made = (
        await api.post(
            "/request", json={"mediaType": "movie", "mediaId": movie.tmdb}, headers=FRIEND
        )
    ).json()
    await api.post(f"/request/{made['id']}/approve")
    ov_sim.control.available(made["id"])
    got = await receiver.wait_for(3)
    assert [g.body["notification_type"] for g in got] == [
        "MEDIA_PENDING",
        "MEDIA_APPROVED",
        "MEDIA_AVAILABLE",
    ]
    assert all(g.headers["authorization"] == "Bearer hub-secret" for g in got)
    assert all(g.path == "/hooks/overseerr" for g in got)
    body = got[2].body
    friend = ov_world.users[2]
    assert body["event"] == "Movie Request Now Available"
    assert body["subject"] == f"{movie.title} ({movie.year})"
    assert body["media"] == {
        "media_type": "movie",
        "tmdbId": str(movie.tmdb),
        "tvdbId": str(movie.tvdb) if movie.tvdb is not None else "",
        "status": "AVAILABLE",
        "status4k": "UNKNOWN",
    }
    assert body["request"] == {
        "request_id": str(made["id"]),
        "requestedBy_email": friend.email,
        "requestedBy_username": friend.display_name,
        "requestedBy_avatar": friend.avatar,
    }
    assert body["issue"] is None and body["comment"] is None
    assert body["extra"] == []
    assert got[1].body["media"]["status"] == "PROCESSING"


async def test_types_filter_and_show_extra(
    api: httpx.AsyncClient, ov_world: OverseerrWorld, receiver: WebhookReceiver
) -> None:
    await configure(api, receiver.url, types=int(Notification.MEDIA_DECLINED), auth="")
    show = next(t for t in ov_world.catalogue.requestable_only() if t.media_type == TV)
    made = (
        await api.post(
            "/request",
            json={"mediaType": "tv", "mediaId": show.tmdb, "seasons": [1]},
            headers=FRIEND,
        )
    ).json()
    await api.post(f"/request/{made['id']}/decline")
    got = await receiver.wait_for(1)
    assert len(got) == 1
    assert got[0].body["notification_type"] == "MEDIA_DECLINED"
    assert got[0].body["event"] == "Series Request Declined"
    assert got[0].body["extra"] == [{"name": "Requested Seasons", "value": "1"}]
    assert "authorization" not in got[0].headers


async def test_a_custom_template(
    api: httpx.AsyncClient, ov_world: OverseerrWorld, receiver: WebhookReceiver
) -> None:
    template = {"kind": "{{notification_type}}", "id": "{{request_id}}", "tmdb": "{{media_tmdbid}}"}
    await configure(api, receiver.url, payload=encode_template(template))
    movie = next(t for t in ov_world.catalogue.requestable_only() if t.media_type == MOVIE)
    made = (await api.post("/request", json={"mediaType": "movie", "mediaId": movie.tmdb})).json()
    got = await receiver.wait_for(1)
    assert got[0].body == {
        "kind": "MEDIA_AUTO_APPROVED",
        "id": str(made["id"]),
        "tmdb": str(movie.tmdb),
    }


async def test_a_dead_receiver_never_blocks_and_is_logged(
    api: httpx.AsyncClient,
    ov_sim: RunningOverseerr,
    ov_world: OverseerrWorld,
    caplog_warnings: pytest.LogCaptureFixture,
) -> None:
    await configure(api, "http://127.0.0.1:9/nothing-listens-here")
    movie = next(t for t in ov_world.catalogue.requestable_only() if t.media_type == MOVIE)
    answer = await api.post(
        "/request", json={"mediaType": "movie", "mediaId": movie.tmdb}, headers=FRIEND
    )
    assert answer.status_code == 201
    await ov_sim.control.drain_webhooks()
    deliveries = ov_world.notifier.deliveries
    assert len(deliveries) == 1 and deliveries[0].error and deliveries[0].status is None
    assert any("webhook MEDIA_PENDING" in r.getMessage() for r in caplog_warnings.records)
    async with httpx.AsyncClient(base_url=ov_sim.control_url) as control:
        listed = (await control.get("/webhooks")).json()
    assert listed[0]["type"] == "MEDIA_PENDING" and listed[0]["error"]


async def test_a_bad_payload_is_refused(api: httpx.AsyncClient) -> None:
    answer = await api.post(
        "/settings/notifications/webhook",
        json={
            "enabled": True,
            "types": 4,
            "options": {"webhookUrl": "http://x", "jsonPayload": "%%%"},
        },
    )
    assert answer.status_code == 500
    assert "jsonPayload" in answer.json()["message"]


async def test_settings_need_manage_settings(api: httpx.AsyncClient) -> None:
    answer = await api.get("/settings/notifications/webhook", headers=FRIEND)
    assert answer.status_code == 403
