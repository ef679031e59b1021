"""The plugin loaded into a real hub (the SDK test kit) with the simulator: a request filed
through the hub, then followed by the webhooks the simulator renders from Overseerr's own
template, in both runtime modes and across two replicas sharing PostgreSQL and Redis."""

from __future__ import annotations

from typing import Any

from overseerr_testkit import WEBHOOK_SECRET, instance_for

from medianest.core.db.models import User
from medianest.core.requests.views import RequestAsk
from medianest.sdk import Permission, Principal
from medianest.sdk.testing import HubHarness, RunningHub
from medianest_overseerr import plugin
from medianest_overseerr.backend import OverseerrRequestBackend
from medianest_overseerr.simulator import OverseerrWorld, RunningOverseerr
from medianest_overseerr.simulator.webhooks import Notification
from medianest_overseerr.source import OverseerrMediaSource

HOOK = "/api/v1/plugins/overseerr/webhook/home"


def section(sim: RunningOverseerr) -> dict[str, Any]:
    instance = instance_for(sim)
    return {
        "instances": [
            {
                "name": instance.name,
                "url": instance.url,
                "api_key": sim.api_key,
                "webhook_secret": WEBHOOK_SECRET,
            }
        ]
    }


def send_webhooks_to_nowhere(world: OverseerrWorld) -> None:
    """Overseerr's webhook agent on, with the hub's secret; the tests post what it renders."""
    world.webhook.update(
        {
            "enabled": True,
            "types": int(sum(Notification)),
            "options": {"webhookUrl": "http://127.0.0.1:9/", "authHeader": WEBHOOK_SECRET},
        }
    )


async def friend_of(running: RunningHub, world: OverseerrWorld) -> Principal:
    """friend1 as a hub user (Overseerr user 2)."""
    account = world.plex.accounts["friend1"]
    with running.hub.database.activate():
        user = await User.create(username=account.username, email=account.email)
    return Principal(
        user_id=user.id,
        username=account.username,
        email=account.email,
        identities={"plex": str(account.id)},
        permissions=frozenset({str(Permission.REQUEST)}),
    )


async def file_request(running: RunningHub, world: OverseerrWorld) -> tuple[int, int]:
    """A request filed through the hub: (hub id, Overseerr id)."""
    title = next(t for t in world.catalogue.requestable_only() if t.media_type == "movie")
    principal = await friend_of(running, world)
    created = await running.hub.requests.create(
        principal, RequestAsk(kind="movie", tmdb_id=title.tmdb)
    )
    return created.request.id, int(created.request.remote_id)


def last_webhook(world: OverseerrWorld) -> tuple[dict[str, Any], dict[str, str]]:
    delivery = world.notifier.deliveries[-1]
    return delivery.body, {"Authorization": delivery.authorization or ""}


async def status_of(running: RunningHub, request_id: int) -> str:
    with running.hub.database.activate():
        admin = Principal(user_id=0, username="root", role="admin")
        return (await running.hub.requests.get(admin, request_id)).status


async def test_the_hub_registers_the_instance_and_follows_its_webhooks(
    medianest_hub: HubHarness,
    overseerr_sim: RunningOverseerr,
    overseerr_world: OverseerrWorld,
    mode: dict[str, Any],
) -> None:
    send_webhooks_to_nowhere(overseerr_world)
    plugins = {"overseerr": section(overseerr_sim)}
    async with medianest_hub.run({"overseerr": plugin}, plugins=plugins, **mode) as running:
        hub = running.hub
        backend = hub.registry.get("request_backends", "overseerr:home")
        assert isinstance(backend, OverseerrRequestBackend)
        assert isinstance(hub.registry.get("media_sources", "overseerr:home"), OverseerrMediaSource)

        hub_id, remote = await file_request(running, overseerr_world)
        assert overseerr_world.request(remote).requested_by.id == 2, "filed as friend1"

        overseerr_sim.control.approve(remote)
        body, auth = last_webhook(overseerr_world)
        assert body["notification_type"] == "MEDIA_APPROVED"
        response = await running.client.post(HOOK, json=body, headers=auth)
        assert response.status_code == 200, await response.get_data()
        assert await status_of(running, hub_id) == "approved"

        replay = await running.client.post(HOOK, json=body, headers=auth)
        assert replay.status_code == 400
        forged = await running.client.post(HOOK, json=body, headers={"Authorization": "nope"})
        assert forged.status_code == 401

        overseerr_sim.control.available(remote)
        body, auth = last_webhook(overseerr_world)
        assert (await running.client.post(HOOK, json=body, headers=auth)).status_code == 200
        assert await status_of(running, hub_id) == "available"

        unknown = dict(body, request={**body["request"], "request_id": "987654"})
        response = await running.client.post(HOOK, json=unknown, headers=auth)
        assert response.status_code == 202
        malformed = await running.client.post(HOOK, data=b"{", headers=auth)
        assert malformed.status_code == 400


async def test_two_replicas_share_webhook_replays_and_request_status(
    medianest_hub: HubHarness,
    overseerr_sim: RunningOverseerr,
    overseerr_world: OverseerrWorld,
    scaled: dict[str, Any],
) -> None:
    send_webhooks_to_nowhere(overseerr_world)
    shared = {"plugins": {"overseerr": section(overseerr_sim)}, **scaled}
    async with (
        medianest_hub.run({"overseerr": plugin}, **shared) as one,
        medianest_hub.run({"overseerr": plugin}, **shared) as two,
    ):
        hub_id, remote = await file_request(one, overseerr_world)
        overseerr_sim.control.decline(remote)
        body, auth = last_webhook(overseerr_world)
        assert (await one.client.post(HOOK, json=body, headers=auth)).status_code == 200
        replayed = await two.client.post(HOOK, json=body, headers=auth)
        assert replayed.status_code == 400, "the other replica saw it already"
        assert (await replayed.get_json())["code"] == "overseerr.webhook.replayed"
        assert await status_of(two, hub_id) == "declined"


async def test_the_hubs_search_shows_overseerr_titles_as_requestable(
    medianest_hub: HubHarness, overseerr_sim: RunningOverseerr, overseerr_world: OverseerrWorld
) -> None:
    title = next(t for t in overseerr_world.catalogue.requestable_only() if t.media_type == "movie")
    plugins = {"overseerr": section(overseerr_sim)}
    async with medianest_hub.run({"overseerr": plugin}, plugins=plugins) as running:
        headers = await running.sign_in()
        response = await running.client.get(
            "/api/v1/search", query_string={"q": title.title}, headers=headers
        )
        assert response.status_code == 200, await response.get_data()
        body = await response.get_json()
    hits = [h for h in body["items"] if h["ids"].get("tmdb") == title.tmdb]
    assert hits, body
    assert hits[0]["availability"] == "requestable"
    assert hits[0]["copies"][0]["source"] == "overseerr:home"


async def test_replicas_share_the_directory_of_overseerr_users(
    medianest_hub: HubHarness,
    overseerr_sim: RunningOverseerr,
    overseerr_world: OverseerrWorld,
    scaled: dict[str, Any],
) -> None:
    user_reads: list[str] = []
    overseerr_world.observers.append(
        lambda exchange: (
            user_reads.append(exchange.path)
            if exchange.path.startswith("/api/v1/user") and exchange.method == "GET"
            else None
        )
    )
    shared = {"plugins": {"overseerr": section(overseerr_sim)}, **scaled}
    async with (
        medianest_hub.run({"overseerr": plugin}, **shared) as one,
        medianest_hub.run({"overseerr": plugin}, **shared) as two,
    ):
        friend = await friend_of(one, overseerr_world)
        first = one.hub.registry.get("request_backends", "overseerr:home")
        second = two.hub.registry.get("request_backends", "overseerr:home")
        assert await first.users.find(friend) == 2
        reads = len(user_reads)
        assert reads >= 1
        assert await second.users.find(friend) == 2
        assert len(user_reads) == reads, "the other replica used the shared directory"


async def test_the_requests_api_answers_overseerrs_refusals_and_failures(
    medianest_hub: HubHarness, overseerr_sim: RunningOverseerr, overseerr_world: OverseerrWorld
) -> None:
    title = next(t for t in overseerr_world.catalogue.requestable_only() if t.media_type == "movie")
    plugins = {"overseerr": section(overseerr_sim)}
    async with medianest_hub.run({"overseerr": plugin}, plugins=plugins) as running:
        headers = await running.sign_in(username="nobody-in-overseerr")
        body = {"kind": "movie", "tmdb_id": title.tmdb}
        overseerr_sim.control.down()
        down = await running.client.post("/api/v1/requests", json=body, headers=headers)
        assert down.status_code in (502, 503), await down.get_data()
        assert "Overseerr 'home'" in (await down.get_json())["detail"]

        overseerr_sim.control.up()
        refused = await running.client.post("/api/v1/requests", json=body, headers=headers)
        assert refused.status_code == 409, await refused.get_data()
        problem = await refused.get_json()
        assert problem["code"] == "account_not_linked"
        assert "has no account in Overseerr 'home'" in problem["detail"]
        assert not overseerr_world.requests, "nothing was filed as the admin"
