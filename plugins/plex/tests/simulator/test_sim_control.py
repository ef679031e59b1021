"""The ``/__sim`` control API and webhook delivery."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from openapi_schema_validator import OAS31Validator
from plex_sim_specs import SPECS
from plex_sim_support import Receiver

from medianest_plex.simulator import Kind, RunningSimulator


async def test_world_description_lists_urls_tokens_and_accounts(
    control: httpx.AsyncClient, sim: RunningSimulator
) -> None:
    body = (await control.get("/world")).json()
    assert [s["uri"] for s in body["servers"]] == [sim.url("home"), sim.url("cabin")]
    assert body["servers"][0]["tokens"]["owner"] == sim.world.owner.token
    assert set(body["accounts"]) == {"owner", "friend1", "friend2", "managed", "stranger"}
    assert body["servers"][0]["sections"]["1"]["count"] == 120


async def test_add_change_and_remove_items(
    control: httpx.AsyncClient, pms: httpx.AsyncClient, sim: RunningSimulator
) -> None:
    created = await control.post(
        "/servers/home/items", json={"type": "movie", "title": "Control Movie", "year": 2023}
    )
    assert created.status_code == 201
    rk = created.json()["ratingKey"]
    detail = (await pms.get(f"/library/metadata/{rk}")).json()["MediaContainer"]["Metadata"][0]
    assert (detail["title"], detail["year"]) == ("Control Movie", 2023)
    sim.world.advance_clock(30)
    changed = await control.patch(f"/servers/home/items/{rk}", json={"summary": "New words"})
    assert changed.json()["updatedAt"] > detail["updatedAt"]
    detail = (await pms.get(f"/library/metadata/{rk}")).json()["MediaContainer"]["Metadata"][0]
    assert detail["summary"] == "New words"
    removed = await control.delete(f"/servers/home/items/{rk}")
    assert removed.json() == {"removed": [rk]}
    assert (await pms.get(f"/library/metadata/{rk}")).status_code == 404


async def test_add_show_and_episode(control: httpx.AsyncClient, pms: httpx.AsyncClient) -> None:
    show = (
        await control.post(
            "/servers/home/items",
            json={"type": "show", "title": "Control Show", "seasons": 2, "episodes": 4},
        )
    ).json()
    assert [len(s["children"]) for s in show["children"]] == [4, 4]
    episode = (
        await control.post(
            "/servers/home/items",
            json={"type": "episode", "parent": int(show["ratingKey"]), "title": "Finale"},
        )
    ).json()
    season_two = show["children"][1]["ratingKey"]
    children = (await pms.get(f"/library/metadata/{season_two}/children")).json()
    titles = [e["title"] for e in children["MediaContainer"]["Metadata"]]
    assert titles[-1] == "Finale" and len(titles) == 5
    assert episode["type"] == "episode"
    removed = (await control.delete(f"/servers/home/items/{show['ratingKey']}")).json()
    assert len(removed["removed"]) == 1 + 2 + 9


@pytest.mark.parametrize(
    "body,status",
    [
        ({"type": "film"}, 400),
        ({}, 400),
        ({"type": "movie", "year": "old"}, 400),
        ({"type": "episode"}, 400),
        ({"type": "episode", "parent": 99999999}, 404),
        ({"type": "show", "seasons": 0}, 400),
        ({"type": "movie", "agent": "robot"}, 400),
    ],
)
async def test_bad_control_input(control: httpx.AsyncClient, body: dict, status: int) -> None:
    response = await control.post("/servers/home/items", json=body)
    assert response.status_code == status
    assert response.json()["error"]


async def test_control_rejects_non_json_bodies(control: httpx.AsyncClient) -> None:
    response = await control.post(
        "/servers/home/items",
        content=b"\xff\xfe not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert (await control.post("/servers/home/items", json=[1, 2])).status_code == 400


async def test_unknown_server_and_item_are_404(control: httpx.AsyncClient) -> None:
    assert (await control.patch("/servers/attic/items/1", json={})).status_code == 404
    assert (await control.delete("/servers/home/items/99999999")).status_code == 404


async def test_approve_pin_and_clock(
    control: httpx.AsyncClient, plextv: httpx.AsyncClient, sim: RunningSimulator
) -> None:
    pin = (await plextv.post("/pins")).json()
    approved = await control.post(f"/pins/{pin['id']}/approve", json={"account": "managed"})
    assert approved.json()["authToken"] == sim.world.accounts["managed"].token
    assert (
        await control.post(f"/pins/{pin['id']}/approve", json={"account": "nobody"})
    ).status_code == 404
    before = sim.world.now()
    moved = (await control.post("/clock", json={"advance": 3600})).json()
    assert moved["now"] >= before + 3600
    assert (await plextv.get(f"/pins/{pin['id']}")).status_code == 404


async def test_reset_restores_the_generated_world(
    control: httpx.AsyncClient, pms: httpx.AsyncClient, sim: RunningSimulator
) -> None:
    before = (await control.get("/world")).json()
    added = (await control.post("/servers/home/items", json={"type": "movie"})).json()
    await control.post("/faults", json={"mode": "error", "path": "/__never__"})
    server = sim.world.servers[0]
    after = (await control.post("/reset")).json()
    assert after["servers"] == before["servers"]
    assert sim.world.faults.rules == []
    assert sim.world.servers[0] is server
    assert (await pms.get(f"/library/metadata/{added['ratingKey']}")).status_code == 404


async def test_sessions_via_control(control: httpx.AsyncClient, sim: RunningSimulator) -> None:
    movie = sim.world.servers[0].library.of_kind(1, Kind.MOVIE)[0]
    started = await control.post(
        "/servers/home/sessions", json={"account": "owner", "ratingKey": movie.rating_key}
    )
    assert started.status_code == 201
    key = started.json()["sessionKey"]
    stopped = await control.delete(f"/servers/home/sessions/{key}")
    assert stopped.json()["historyId"] is not None
    denied = await control.post(
        "/servers/home/sessions", json={"account": "stranger", "ratingKey": movie.rating_key}
    )
    assert denied.status_code == 404


async def test_webhook_is_multipart_with_json_payload(
    control: httpx.AsyncClient, sim: RunningSimulator, webhook_receiver: Receiver
) -> None:
    registered = await control.post("/webhooks", json={"url": webhook_receiver.url})
    assert registered.status_code == 201
    episode = sim.world.servers[0].library.of_kind(2, Kind.EPISODE)[0]
    fired = await control.post(
        "/webhooks/fire",
        json={
            "event": "media.play",
            "ratingKey": episode.rating_key,
            "account": "friend1",
            "thumb": True,
        },
    )
    assert fired.json()["deliveries"] == [
        {"url": webhook_receiver.url, "status": 200, "error": None}
    ]
    await asyncio.wait_for(webhook_receiver.arrived.wait(), 5)
    delivery = webhook_receiver.deliveries[0]
    assert delivery["content_type"] == "multipart/form-data"
    payload = json.loads(delivery["payload"])
    assert payload["event"] == "media.play"
    assert payload["Server"] == {"title": "Home", "uuid": sim.world.servers[0].machine_identifier}
    assert payload["Account"]["id"] == sim.world.accounts["friend1"].id
    assert payload["owner"] is False and payload["Player"]["title"]
    assert payload["Metadata"]["ratingKey"] == str(episode.rating_key)
    assert payload["Metadata"]["librarySectionType"] == "show"
    assert delivery["files"]["thumb"][1] == "image/jpeg"
    validate_webhook(payload)


async def test_library_new_webhook_from_world_method(
    sim: RunningSimulator, webhook_receiver: Receiver
) -> None:
    world = sim.world
    world.webhooks.add(webhook_receiver.url)
    movie = world.add_movie("cabin", title="Webhook Arrival")
    deliveries = await world.fire_webhook(
        "library.new", server="cabin", rating_key=movie.rating_key
    )
    assert [d.status for d in deliveries] == [200]
    payload = json.loads(webhook_receiver.deliveries[0]["payload"])
    assert payload["Metadata"]["title"] == "Webhook Arrival" and "Player" not in payload
    assert payload["Account"]["id"] == 1 and payload["owner"] is True
    validate_webhook(payload)


async def test_unreachable_webhook_target_is_reported(control: httpx.AsyncClient) -> None:
    await control.post("/webhooks", json={"url": "http://127.0.0.1:9/nowhere"})
    fired = (await control.post("/webhooks/fire", json={"event": "media.stop"})).json()
    assert fired["deliveries"][0]["status"] is None and fired["deliveries"][0]["error"]
    assert (
        await control.post("/webhooks/fire", json={"event": "media.explode"})
    ).status_code == 400
    assert (await control.post("/webhooks", json={"url": "ftp://x"})).status_code == 400
    cleared = await control.delete("/webhooks")
    assert cleared.json() == {"urls": []}


def validate_webhook(payload: dict) -> None:
    """Check a payload against the community spec's ``WebhookPayload`` schema."""
    import yaml

    text = (SPECS / "plex-community-openapi.yaml").read_text()
    start = text.index("\n    WebhookPayload:")
    end = text.index("\nx-speakeasy-retries:", start)
    schema = yaml.safe_load(text[start:end])["WebhookPayload"]
    OAS31Validator(schema).validate(payload)
