"""End to end with the bundled notify plugin's webhook notifier: a person's webhook is checked
by it before it is saved (private destinations refused unless allowed), and an event reaches
the local receiver with the delivery id as Idempotency-Key. Both runtime modes."""

from __future__ import annotations

from medianest.core.db.models import NotificationDelivery
from medianest.sdk.events import REQUEST_AVAILABLE
from medianest.sdk.models import DomainEvent
from medianest_notify import plugin as notify_plugin
from tests.admin_testing import with_session
from tests.notifications.conftest import KEY, eventually, person

BASE = "/api/v1/notifications"


def notify_section(allow_private: bool, admin_url: str) -> dict:
    return {
        "webhook": {
            "allow_private_destinations": allow_private,
            "admin_webhooks": [{"url": admin_url}] if allow_private else [],
        }
    }


async def test_a_private_webhook_is_refused_unless_allowed(medianest_hub, mode, receiver) -> None:
    settings = mode | {"secret_key": KEY}
    section = notify_section(False, receiver.url("/admin"))
    async with medianest_hub.run(
        {"notify": notify_plugin}, plugins={"notify": section}, **settings
    ) as running:
        with running.hub.database.activate():
            ann = await person("ann", hub=running.hub)
            caller, _ = await with_session(running, ann)
            status, problem = await caller.put(
                f"{BASE}/channels/webhook", {"address": receiver.url("/ann")}
            )
        assert status == 422, problem
        assert problem["code"] == "invalid_address"
        assert problem["errors"][0]["field"] == "url", "the notifier names the part refused"
        assert "private" in problem["detail"].lower(), problem["detail"]


async def test_an_event_reaches_a_persons_webhook_through_the_notify_plugin(
    medianest_hub, mode, receiver
) -> None:
    settings = mode | {"secret_key": KEY}
    section = notify_section(True, receiver.url("/admin"))
    async with medianest_hub.run(
        {"notify": notify_plugin}, plugins={"notify": section}, **settings
    ) as running:
        hub = running.hub
        with hub.database.activate():
            ann = await person("ann", hub=hub)
            caller, _ = await with_session(running, ann)
            status, saved = await caller.put(
                f"{BASE}/channels/webhook", {"address": receiver.url("/ann")}
            )
            assert status == 200, saved
            if hub.mode == "scaled":
                from tests.notifications.conftest import worker

                async with worker(hub):
                    await _deliver(hub, ann.id, receiver)
            else:
                await _deliver(hub, ann.id, receiver)


async def _deliver(hub, user_id: int, receiver) -> None:
    await hub.emit(
        DomainEvent(
            type=REQUEST_AVAILABLE,
            source="core",
            user_id=user_id,
            data={"request_id": 3, "title": "Dune", "interested": [user_id]},
        )
    )
    await hub.events.flush()
    await receiver.wait_for(1, "/ann", within=30)
    [got] = receiver.at("/ann")
    [row] = await NotificationDelivery.filter(user_id=user_id, notifier="notify:webhook")
    assert got.key == row.key
    assert "Dune is available" in str(got.body)

    async def sent() -> bool:
        return await NotificationDelivery.filter(id=row.id, status="sent").exists()

    await eventually(sent)
