"""Delivery: retried with back-off, dead-lettered with the reason, rate limited per
destination without holding up the others, and sent once even when a worker dies mid-send."""

from __future__ import annotations

import asyncio
import time

from medianest.core.db.models import NotificationDelivery
from medianest.sdk.events import REQUEST_AVAILABLE
from medianest.sdk.models import DomainEvent
from tests.notifications.conftest import eventually, person, worker


def available(user_ids: list[int], request_id: int = 7) -> DomainEvent:
    return DomainEvent(
        type=REQUEST_AVAILABLE,
        source="core",
        user_id=user_ids[0],
        data={"request_id": request_id, "title": f"Film {request_id}", "interested": user_ids},
    )


async def status_of(user_id: int) -> list[str]:
    return [d.status for d in await NotificationDelivery.filter(user_id=user_id).order_by("id")]


async def test_a_failing_destination_is_retried_until_it_answers(start_hub, receiver) -> None:
    receiver.statuses = [503, 500]
    async with start_hub() as running:
        ann = await person("ann", hub=running.hub, webhook=receiver.url("/ann"))
        await running.hub.emit(available([ann.id]))
        await running.hub.events.flush()

        async def sent() -> bool:
            return await status_of(ann.id) == ["sent"]

        await eventually(sent)
        [row] = await NotificationDelivery.filter(user_id=ann.id)
        assert row.attempts == 3 and "500" in (row.last_error or "")
        calls = receiver.at("/ann")
        assert len(calls) == 3 and len({c.key for c in calls}) == 1, "one key for every try"
        assert calls[2].at - calls[1].at >= 0.09, "the second wait is twice the first (0.05 s)"


async def test_exhausted_tries_end_in_the_dead_letters_and_block_nobody(
    start_hub, receiver
) -> None:
    receiver.statuses = [500] * 3
    async with start_hub(notifications={"delivery_attempts": 3}) as running:
        ann = await person("ann", hub=running.hub, webhook=receiver.url("/ann"))
        bob = await person("bob", hub=running.hub, webhook=receiver.url("/bob"))
        await running.hub.emit(available([ann.id]))
        await running.hub.events.flush()

        async def dead() -> bool:
            return await status_of(ann.id) == ["dead"]

        await eventually(dead)
        [row] = await NotificationDelivery.filter(user_id=ann.id)
        assert row.attempts == 3 and row.last_error == "UpstreamError: receiver answered 500"
        await running.hub.emit(available([bob.id], request_id=8))
        await running.hub.events.flush()
        await receiver.wait_for(1, "/bob")


async def test_a_refusal_is_dead_lettered_at_once(start_hub, receiver) -> None:
    receiver.statuses = [404]
    async with start_hub() as running:
        ann = await person("ann", hub=running.hub, webhook=receiver.url("/ann"))
        await running.hub.emit(available([ann.id]))
        await running.hub.events.flush()

        async def dead() -> bool:
            return await status_of(ann.id) == ["dead"]

        await eventually(dead)
        [row] = await NotificationDelivery.filter(user_id=ann.id)
        assert row.attempts == 1 and "404" in (row.last_error or "")


async def test_a_busy_destination_waits_and_the_others_go_on(start_hub, receiver) -> None:
    limits = {"destination_limit": 2, "destination_window_seconds": 3.0, "group_window_seconds": 0}
    async with start_hub(notifications=limits) as running:
        hub = running.hub
        ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
        bob = await person("bob", hub=hub, webhook=receiver.url("/bob"))
        started = time.monotonic()
        for n in range(5):
            await hub.emit(available([ann.id], request_id=n))
        await hub.emit(available([bob.id], request_id=99))
        await hub.events.flush()
        await receiver.wait_for(1, "/bob")
        await receiver.wait_for(5, "/ann", within=30)
        arrivals = sorted(r.at - started for r in receiver.at("/ann"))
        assert len(arrivals) == 5, "none is dropped"
        assert arrivals[2] - arrivals[0] >= 2.0, "beyond 2 per window, they wait for the next"
        bob_at = receiver.at("/bob")[0].at - started
        assert bob_at < arrivals[2], "another destination is not held up by the waiting ones"

        async def all_sent() -> bool:
            return await status_of(ann.id) == ["sent"] * 5

        await eventually(all_sent)


async def test_a_delivery_whose_worker_died_is_sent_again_with_the_same_key(
    start_hub, receiver
) -> None:
    """The worker is stopped mid-send (scaled: the ARQ worker's task is cancelled while the
    receiver holds the request; embedded: the claim is left to a worker that is gone); once
    the lease lapses the sweep queues it again, a new worker sends it with the same key, and
    the receiver counts one delivery."""
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
        receiver.hold = asyncio.Event()
        await hub.emit(available([ann.id]))
        await hub.events.flush()
        await receiver.wait_for(1, "/ann")
        [row] = await NotificationDelivery.filter(user_id=ann.id)
        assert row.status == "sending" and row.lease_until is not None
        assert await hub.notifications.deliverer.run(row.id) == "leased", "the lease holds"
        if hub.mode == "scaled":
            running.worker.cancel()  # the worker dies mid-send
            await asyncio.gather(running.worker, return_exceptions=True)
        else:
            await NotificationDelivery.filter(id=row.id).update(owner="a-worker-that-died")
        receiver.hold.set()
        receiver.hold = None
        assert await NotificationDelivery.filter(id=row.id, status="sending").exists()
        await asyncio.sleep(1.1)  # the lease (1 s) lapses
        await hub.notifications.sweep()  # (a job waiting for the lease may have been first)
        if hub.mode == "scaled":
            async with worker(hub):
                await eventually(lambda: _sent(row.id))
        else:
            await eventually(lambda: _sent(row.id))
        calls = receiver.at("/ann")
        assert len(calls) == 2 and {c.key for c in calls} == {row.key}
        assert len(receiver.unique("/ann")) == 1, "the receiver counts it once"
        assert await hub.notifications.sweep() == 0, "a delivery sent is never queued again"


async def _sent(row_id: int) -> bool:
    return await NotificationDelivery.filter(id=row_id, status="sent").exists()
