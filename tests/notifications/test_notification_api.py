"""The notifications API: inbox, channels (checked, encrypted, masked), preferences, the
test endpoint and the admins' dead letters. Both runtime modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from medianest.core.db.models import NotificationChannel, NotificationDelivery
from medianest.core.events import person_channel
from medianest.sdk.events import REQUEST_AVAILABLE
from medianest.sdk.models import DomainEvent
from tests.admin_testing import with_key, with_session
from tests.notifications.conftest import eventually, person

BASE = "/api/v1/notifications"


async def notes(hub, user_id: int, count: int) -> None:
    for n in range(count):
        await hub.emit(
            DomainEvent(
                type=REQUEST_AVAILABLE,
                source="core",
                user_id=user_id,
                data={"request_id": n, "title": f"Film {n}", "interested": [user_id]},
            )
        )
    await hub.events.flush()


async def test_the_inbox_pages_filters_counts_and_marks_read(start_hub) -> None:
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub)
        bob = await person("bob", hub=hub)
        await notes(hub, ann.id, 5)
        await notes(hub, bob.id, 1)
        caller, _ = await with_session(running, ann)
        status, page = await caller.get(f"{BASE}?limit=2")
        assert status == 200, page
        assert [n["title"] for n in page["items"]] == ["Film 4 is available", "Film 3 is available"]
        assert page["total"] == 5 and page["unread"] == 5 and page["next_cursor"]
        _, rest = await caller.get(f"{BASE}?limit=10&cursor={page['next_cursor']}")
        assert [n["title"] for n in rest["items"]] == [f"Film {n} is available" for n in (2, 1, 0)]

        newest = page["items"][0]["id"]
        async with hub.pubsub.subscribe(person_channel(ann.id)) as frames:
            status, read = await caller.post(f"{BASE}/{newest}/read", None)
            assert status == 200 and read["read"] is True
            async for frame in frames:
                break
        assert frame == {"type": "notification.unread", "unread": 4}
        assert (await caller.get(f"{BASE}/unread-count"))[1] == {"unread": 4}
        _, unread = await caller.get(f"{BASE}?unread=true")
        assert unread["total"] == 4 and newest not in [n["id"] for n in unread["items"]]

        status, _gone = await caller.delete(f"{BASE}/{newest}")
        assert status == 204
        assert (await caller.get(f"{BASE}"))[1]["total"] == 4
        assert (await caller.post(f"{BASE}/read-all", None))[1] == {"changed": 4, "unread": 0}

        _, bobs = await (await with_session(running, bob))[0].get(BASE)
        other = bobs["items"][0]["id"]
        status, problem = await caller.post(f"{BASE}/{other}/read", None)
        assert status == 404 and str(other) in problem["detail"]
        assert (await caller.delete(f"{BASE}/{other}"))[0] == 404
        status, problem = await caller.get(f"{BASE}?cursor=bm9wZQ")
        assert status == 400 and problem["errors"][0]["field"] == "cursor"


async def test_a_channel_is_checked_before_it_is_saved_and_kept_encrypted(
    start_hub, receiver
) -> None:
    async with start_hub() as running:
        ann = await person("ann", hub=running.hub)
        caller, _ = await with_session(running, ann)
        status, problem = await caller.put(f"{BASE}/channels/webhook", {"address": "ftp://x"})
        assert status == 422, problem
        assert problem["errors"][0]["field"] == "address"
        assert "not an http(s) URL" in problem["errors"][0]["message"]
        status, problem = await caller.put(f"{BASE}/channels/pager", {"address": "x"})
        assert status == 422 and problem["errors"][0]["field"] == "kind"
        assert "webhook" in problem["detail"], "the kinds that exist are named"
        assert await NotificationChannel.all().count() == 0

        url = receiver.url("/ann?token=s3cret")
        status, saved = await caller.put(f"{BASE}/channels/webhook", {"address": url})
        assert status == 200, saved
        assert saved["address"] == "http://127.0.0.1/…" and "s3cret" not in str(saved)
        row = await NotificationChannel.get(user_id=ann.id)
        assert "s3cret" not in row.address and running.hub.secrets.decrypt(row.address) == url
        _, listed = await caller.get(f"{BASE}/channels")
        assert listed["kinds"] == ["webhook"]
        assert [(c["kind"], c["notifier"]) for c in listed["items"]] == [
            ("webhook", "testhook:webhook")
        ]

        status, result = await caller.post(f"{BASE}/test", {})
        assert status == 200, result
        assert result["results"] == [
            {"channel": "webhook", "notifier": "testhook:webhook", "ok": True, "error": None}
        ]
        [got] = receiver.at("/ann?token=s3cret")
        assert got.body["title"] == "Test notification from MediaNest"
        assert got.key.startswith("test:")
        receiver.statuses = [500]
        _, failed = await caller.post(f"{BASE}/test", {"channel": "webhook"})
        assert failed["results"][0]["ok"] is False
        assert "500" in failed["results"][0]["error"]
        status, problem = await caller.post(f"{BASE}/test", {"channel": "email"})
        assert status == 404 and "email" in problem["detail"]

        assert (await caller.delete(f"{BASE}/channels/webhook"))[0] == 204
        assert (await caller.delete(f"{BASE}/channels/webhook"))[0] == 404


async def test_preferences_are_read_and_replaced_and_bad_ones_are_named(start_hub) -> None:
    async with start_hub() as running:
        ann = await person("ann", hub=running.hub)
        root = await person("root", role="admin", hub=running.hub)
        caller, _ = await with_session(running, ann)
        admin, _ = await with_session(running, root)
        status, defaults = await admin.put(
            f"{BASE}/defaults", {"muted": ["sync.*"], "channels": ["webhook"]}
        )
        assert status == 200, defaults
        assert (await caller.get(f"{BASE}/preferences"))[1]["muted"] == ["sync.*"]
        chosen = {
            "muted": [],
            "channels": None,
            "events": {"request.*": ["webhook"]},
            "quiet_hours": {"start": "22:00:00", "end": "07:00:00", "timezone": "Europe/Paris"},
        }
        status, saved = await caller.put(f"{BASE}/preferences", chosen)
        assert status == 200 and saved == chosen
        assert (await caller.get(f"{BASE}/preferences"))[1] == chosen
        for bad, field in (
            (
                {"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Base"}},
                "timezone",
            ),
            ({"muted": ["Not An Event"]}, "muted"),
            ({"colour": "red"}, "colour"),
        ):
            status, problem = await caller.put(f"{BASE}/preferences", bad)
            assert status == 422, problem
            assert field in str(problem)
        status, problem = await caller.put(f"{BASE}/defaults", {})
        assert status == 403 and problem["permission"] == "manage_settings"


async def test_admins_see_retry_and_discard_dead_letters(start_hub, receiver) -> None:
    receiver.statuses = [410]
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
        root = await person("root", role="admin", hub=hub)
        await notes(hub, ann.id, 2)

        async def two_done() -> bool:
            statuses = await NotificationDelivery.filter(user_id=ann.id).values_list(
                "status", flat=True
            )
            return sorted(statuses) == ["dead", "sent"]

        await eventually(two_done)
        admin = await with_key(running, root)
        status, letters = await admin.get(f"{BASE}/dead-letters")
        assert status == 200, letters
        [letter] = letters["items"]
        assert letter["user_id"] == ann.id and "410" in letter["last_error"]
        assert letter["title"].endswith("is available") and letters["total"] == 1

        status, queued = await admin.post(f"{BASE}/dead-letters/{letter['id']}/retry", None)
        assert status == 202, queued

        async def sent() -> bool:
            return await NotificationDelivery.filter(id=letter["id"], status="sent").exists()

        await eventually(sent)
        assert (await admin.get(f"{BASE}/dead-letters"))[1]["total"] == 0
        assert (await admin.post(f"{BASE}/dead-letters/{letter['id']}/retry", None))[0] == 404

        await NotificationDelivery.filter(id=letter["id"]).update(status="dead")
        assert (await admin.delete(f"{BASE}/dead-letters/{letter['id']}"))[0] == 204
        assert (await admin.delete(f"{BASE}/dead-letters/{letter['id']}"))[0] == 404
        plain = await with_key(running, ann)
        assert (await plain.get(f"{BASE}/dead-letters"))[0] == 403


async def test_the_sweep_queues_what_a_dead_worker_left(start_hub, receiver) -> None:
    async with start_hub() as running:
        hub = running.hub
        ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
        await notes(hub, ann.id, 1)
        await receiver.wait_for(1, "/ann")
        [row] = await NotificationDelivery.filter(user_id=ann.id)
        await eventually(lambda: _status(row.id, "sent"))
        await NotificationDelivery.filter(id=row.id).update(
            status="sending", owner="gone", lease_until=datetime.now(UTC) - timedelta(seconds=1)
        )
        assert await hub.notifications.sweep() == 1
        await eventually(lambda: _status(row.id, "sent"))
        assert len(receiver.unique("/ann")) == 1 and len(receiver.at("/ann")) == 2


async def _status(row_id: int, status: str) -> bool:
    return await NotificationDelivery.filter(id=row_id, status=status).exists()
