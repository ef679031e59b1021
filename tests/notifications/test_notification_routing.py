"""Routing: events become notifications for the people concerned, by their preferences,
kept in their inbox (grouped) and delivered to their channels. Both runtime modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from medianest.core.db.models import Notification, NotificationDelivery
from medianest.core.events import person_channel
from medianest.core.notifications.preferences import Preferences, QuietHours, save, user_scope
from medianest.sdk.access import Permission
from medianest.sdk.events import REQUEST_AVAILABLE, REQUEST_CREATED, SYNC_FAILED
from medianest.sdk.models import DomainEvent
from tests.notifications.conftest import eventually, person


def request_event(
    kind: str, user_id: int, interested: list[int], request_id: int = 7
) -> DomainEvent:
    return DomainEvent(
        type=kind,
        source="core",
        user_id=user_id,
        data={
            "request_id": request_id,
            "title": "Dune",
            "status": kind.split(".")[1],
            "interested": interested,
        },
    )


async def inbox_of(user_id: int) -> list[Notification]:
    return await Notification.filter(user_id=user_id).order_by("id")


async def test_an_available_request_reaches_the_requester_and_the_interested(
    start_hub, receiver
) -> None:
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
        bob = await person("bob", hub=hub, webhook=receiver.url("/bob"))
        cid = await person("cid", hub=hub, webhook=receiver.url("/cid"))
        admin = await person("root", role="admin", hub=hub, webhook=receiver.url("/root"))
        await hub.emit(request_event(REQUEST_AVAILABLE, ann.id, [ann.id, bob.id]))
        await hub.events.flush()
        await receiver.wait_for(1, "/ann")
        await receiver.wait_for(1, "/bob")
        [to_ann] = receiver.at("/ann")
        assert to_ann.body["title"] == "Dune is available" and to_ann.body["user"] == "ann"
        assert to_ann.key and to_ann.key != receiver.at("/bob")[0].key
        assert receiver.at("/cid") == [] and receiver.at("/root") == []
        assert [n.title for n in await inbox_of(ann.id)] == ["Dune is available"]
        assert [n.link for n in await inbox_of(bob.id)] == ["/requests/7"]
        assert await inbox_of(cid.id) == [] and await inbox_of(admin.id) == []


async def test_a_new_request_reaches_those_who_manage_requests(start_hub, receiver) -> None:
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
        await person(
            "mia", permissions=[Permission.MANAGE_REQUESTS], hub=hub, webhook=receiver.url("/mia")
        )
        root = await person("root", role="admin", hub=hub)
        await hub.emit(request_event(REQUEST_CREATED, ann.id, [ann.id]))
        await hub.events.flush()
        await receiver.wait_for(1, "/mia")
        assert receiver.at("/mia")[0].body["title"] == "New request: Dune"
        assert [n.event_type for n in await inbox_of(root.id)] == [REQUEST_CREATED]
        assert await inbox_of(ann.id) == [], "the requester is not told of their own request"


async def test_a_failed_sync_reaches_the_admins(start_hub, receiver) -> None:
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub)
        ops = await person("ops", permissions=[Permission.RUN_SYNCS], hub=hub)
        root = await person("root", role="admin", hub=hub)
        await hub.emit(
            DomainEvent(
                type=SYNC_FAILED, source="core", data={"source": "plex:home", "error": "boom"}
            )
        )
        await hub.events.flush()
        for user in (ops, root):
            [note] = await inbox_of(user.id)
            assert note.title == "Library sync of plex:home failed" and note.body == "boom"
        assert await inbox_of(ann.id) == []


async def test_muted_types_and_inbox_only_types_follow_preferences(start_hub, receiver) -> None:
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
        bob = await person("bob", hub=hub, webhook=receiver.url("/bob"))
        await save(user_scope(ann.id), Preferences(muted=["request.*"]))
        await save(user_scope(bob.id), Preferences(events={REQUEST_AVAILABLE: []}))
        await hub.emit(request_event(REQUEST_AVAILABLE, ann.id, [ann.id, bob.id]))
        await hub.events.flush()
        assert await inbox_of(ann.id) == []
        assert [n.title for n in await inbox_of(bob.id)] == ["Dune is available"]
        assert await NotificationDelivery.filter(user_id__in=[ann.id, bob.id]).count() == 0
        assert receiver.received == []


async def test_quiet_hours_hold_off_site_deliveries_but_not_the_inbox(start_hub, receiver) -> None:
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
        now = datetime.now(UTC)
        quiet = QuietHours(
            start=(now - timedelta(hours=1)).time(),
            end=(now + timedelta(hours=1)).time(),
            timezone="UTC",
        )
        if quiet.held_until(now) is None:  # an hour around midnight: shift the window
            quiet = QuietHours(
                start=now.time().replace(hour=0, minute=0),
                end=now.time().replace(hour=23, minute=59),
                timezone="UTC",
            )
        await save(user_scope(ann.id), Preferences(quiet_hours=quiet))
        await hub.emit(request_event(REQUEST_AVAILABLE, ann.id, [ann.id]))
        await hub.events.flush()
        assert len(await inbox_of(ann.id)) == 1
        [held] = await NotificationDelivery.filter(user_id=ann.id)
        assert held.status == "pending" and held.not_before is not None
        assert held.not_before > now + timedelta(minutes=1)
        assert receiver.received == []


def test_quiet_hours_over_midnight_in_a_time_zone() -> None:
    quiet = QuietHours.model_validate(
        {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"}
    )
    late = datetime(2026, 1, 10, 22, 30, tzinfo=UTC)  # 23:30 in Paris
    assert quiet.held_until(late) == datetime(2026, 1, 11, 6, 0, tzinfo=UTC)
    early = datetime(2026, 1, 11, 5, 0, tzinfo=UTC)  # 06:00 in Paris
    assert quiet.held_until(early) == datetime(2026, 1, 11, 6, 0, tzinfo=UTC)
    assert quiet.held_until(datetime(2026, 1, 11, 12, 0, tzinfo=UTC)) is None


async def test_updates_about_one_request_merge_into_one_notification(start_hub, receiver) -> None:
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
        for _ in range(3):
            await hub.emit(request_event(REQUEST_AVAILABLE, ann.id, [ann.id]))
        await hub.emit(request_event(REQUEST_AVAILABLE, ann.id, [ann.id], request_id=8))
        await hub.events.flush()
        rows = await inbox_of(ann.id)
        assert [(n.count, n.title) for n in rows] == [
            (3, "Dune is available (3 updates)"),
            (1, "Dune is available"),
        ]
        await receiver.wait_for(2, "/ann")
        deliveries = await NotificationDelivery.filter(user_id=ann.id).order_by("id")
        assert len(deliveries) == 3, "one each, and one summary for the merged ones"
        summary = [d for d in deliveries if ":summary:" in d.key]
        assert len(summary) == 1 and summary[0].status == "pending"
        assert summary[0].not_before >= rows[0].created_at + timedelta(seconds=599)


async def test_the_inbox_announces_each_notification_to_the_person(start_hub) -> None:
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub)
        async with hub.pubsub.subscribe(person_channel(ann.id)) as messages:
            await hub.emit(request_event(REQUEST_AVAILABLE, ann.id, [ann.id]))
            await hub.events.flush()
            async for frame in messages:
                break
        assert frame["type"] == "notification" and frame["unread"] == 1
        assert frame["notification"]["title"] == "Dune is available"


async def test_a_plugin_notification_goes_through_the_inbox_and_channels(
    start_hub, receiver
) -> None:
    from medianest.sdk.models import Notification as Message
    from medianest.sdk.models import Recipient

    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
        handle = await hub.notify(
            Message(
                event_type="hello.greeted",
                title="Hello Ann",
                recipients=(Recipient.user(ann.id), Recipient.for_role("admin")),
            )
        )
        assert handle.queued
        await receiver.wait_for(1, "/ann")
        await receiver.wait_for(1, "/admin")
        assert receiver.at("/admin")[0].body["user"] == "admin"
        assert [n.title for n in await inbox_of(ann.id)] == ["Hello Ann"]


async def test_each_delivery_has_a_unique_key_and_is_sent_once(start_hub, receiver) -> None:
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
        await hub.emit(request_event(REQUEST_AVAILABLE, ann.id, [ann.id]))
        await hub.events.flush()
        await receiver.wait_for(1, "/ann")

        async def sent() -> bool:
            return await NotificationDelivery.filter(status="sent").count() == 1

        await eventually(sent)
        [row] = await NotificationDelivery.filter(user_id=ann.id)
        assert await hub.notifications.deliverer.run(row.id) == "sent", "never sent again"
        assert len(receiver.at("/ann")) == 1 and receiver.at("/ann")[0].key == row.key


async def test_a_batch_given_again_after_a_timeout_tells_nobody_twice(start_hub) -> None:
    import asyncio
    import contextlib

    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub)
        event = request_event(REQUEST_AVAILABLE, ann.id, [ann.id])
        with contextlib.suppress(TimeoutError):  # the buffer gave up waiting for the sink
            await asyncio.wait_for(hub.notifications.sink.record([event]), 0.0001)
        await hub.notifications.sink.record([event])  # and gives it the batch again
        assert [n.count for n in await inbox_of(ann.id)] == [1]
