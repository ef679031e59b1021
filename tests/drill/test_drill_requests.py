"""The drill's closing checks of requests and notifications: what the hub's requests say
should have been told, where the hub and Overseerr disagree, and the webhook receiver."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.drill.__main__ import disagreements, expected_notifications
from tests.drill.cluster import Receiver


def row(hub_id: int, remote_id: str, status: str, requester: int) -> dict[str, Any]:
    return {
        "id": hub_id,
        "remote_id": remote_id,
        "status": status,
        "requested_by": {"id": requester},
    }


def test_each_change_is_told_to_its_people() -> None:
    accounts = {1: "owner", 2: "friend1", 3: "managed"}
    rows = [
        row(10, "1", "processing", 1),  # the owner's: approved at once, nothing to approve
        row(11, "2", "available", 2),  # friend1's, approved by the admin, then arrived
        row(12, "3", "pending", 2),
        row(13, "4", "pending", 99),  # someone outside the drill
    ]
    expected = expected_notifications(rows, accounts, approved={11})

    assert expected == {
        ("owner", "request.created", 10),
        ("owner", "request.created", 11),
        ("owner", "request.created", 12),
        ("owner", "request.created", 13),
        ("friend1", "request.approved", 11),
        ("friend1", "request.available", 11),
    }


def test_statuses_that_differ_are_named() -> None:
    rows = [row(1, "7", "processing", 1), row(2, "8", "pending", 1), row(3, "9", "deleted", 1)]
    remote = {"7": "available", "8": "pending"}

    assert disagreements(rows, remote) == ["1: processing != available"]


async def test_the_receiver_keeps_every_post_with_its_key() -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        async with httpx.AsyncClient(base_url=receiver.url) as client:
            for key in ("a", "b", "a"):
                answer = await client.post(
                    "/hook/friend1",
                    json={"event": "request.available", "link": "/requests/4"},
                    headers={"Idempotency-Key": key, "X-MediaNest-Event": "request.available"},
                )
                assert answer.status_code == 204
            assert (await client.get("/hook/friend1")).status_code == 204
        await asyncio.sleep(0)
    finally:
        await receiver.stop()

    assert [(d.path, d.key, d.event) for d in receiver.deliveries] == [
        ("/hook/friend1", "a", "request.available"),
        ("/hook/friend1", "b", "request.available"),
        ("/hook/friend1", "a", "request.available"),
    ]
    assert receiver.bad == 1  # the GET
