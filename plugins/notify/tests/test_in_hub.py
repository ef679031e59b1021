"""The notifiers inside a real hub: ``hub.notify(...)`` → core's notify job → each notifier →
the local receivers (an HTTP receiver for webhooks and Apprise's ``json://``, an SMTP server).

Embedded mode runs the job in the hub's own process; scaled mode queues it in Redis and a
``medianest worker`` process, which loads the plugin from its entry point, delivers it."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from notify_testkit import Answer, HttpReceiver, SmtpServer

from medianest.core.db.models import User
from medianest.sdk import (
    InvalidInputError,
    Notification,
    Recipient,
    RequestRef,
    SettingsError,
    SourceRef,
)
from medianest.sdk.testing import HubHarness, RunningHub
from medianest_notify import plugin
from medianest_notify.apprise_notifier import AppriseNotifier
from medianest_notify.email_notifier import EmailNotifier
from medianest_notify.webhook_notifier import WebhookNotifier, verify

SECRET = "in-hub-signing-secret-0123"
TITLE = 'Dune: "Part Two" is here \U0001f3ac'


def section(receiver: HttpReceiver, smtp: SmtpServer) -> dict[str, Any]:
    return {
        "apprise": {"admin_urls": [f"json://127.0.0.1:{receiver.port}/apprise/admins"]},
        "webhook": {
            "allow_private_destinations": True,
            "admin_webhooks": [{"url": f"{receiver.url}/webhook/admins", "secret": SECRET}],
        },
        "email": {
            "host": "127.0.0.1",
            "port": smtp.port,
            "tls": "none",
            "from_address": "hub@medianest.example",
            "admin_addresses": ["admins@example.org"],
        },
    }


async def _user_with_email(running: RunningHub, username: str, email: str) -> int:
    await running.sign_in(username=username)
    with running.hub.database.activate():
        user = await User.get(username=username)
        user.email = email
        await user.save()
        return int(user.id)


def _notification(ann: int, receiver: HttpReceiver, *, webhook_path: str) -> Notification:
    return Notification(
        event_type="request.available",
        title=TITLE,
        body="It is in the library now.",
        link="https://hub.example/media/plex:home/42",
        media=SourceRef(source="plex:home", item_id="42"),
        request=RequestRef(backend="overseerr:main", request_id="7"),
        recipients=(
            Recipient(
                user_id=ann,
                addresses={
                    "webhook": json.dumps(
                        {"url": f"{receiver.url}{webhook_path}", "secret": SECRET}
                    ),
                    "apprise": f"json://127.0.0.1:{receiver.port}/apprise/ann",
                },
            ),
            Recipient.for_role("admin"),
        ),
    )


def _check_deliveries(receiver: HttpReceiver, smtp: SmtpServer, ann_webhook: str) -> None:
    by_path = {r.path: r for r in receiver.requests}
    assert set(by_path) == {ann_webhook, "/webhook/admins", "/apprise/ann", "/apprise/admins"}
    hook = by_path[ann_webhook]
    body = json.loads(hook.body)
    assert body["subject"] == TITLE
    assert body["user"] == "ann"
    assert body["request"] == {"backend": "overseerr:main", "id": "7"}
    timestamp, signature = (
        hook.header("x-medianest-timestamp"),
        hook.header("x-medianest-signature"),
    )
    assert timestamp and signature and verify(SECRET, timestamp, hook.body, signature)
    assert json.loads(by_path["/webhook/admins"].body)["user"] is None
    assert json.loads(by_path["/apprise/ann"].body)["title"] == TITLE
    mails = {tuple(m.rcpt_tos): m.message for m in smtp.handler.mails}
    assert set(mails) == {("ann@example.org",), ("admins@example.org",)}
    assert mails[("ann@example.org",)]["Subject"] == TITLE


async def test_the_hub_registers_the_three_notifiers_and_their_flags(
    medianest_hub: HubHarness, receiver: HttpReceiver, smtp: SmtpServer
) -> None:
    async with medianest_hub.run(
        {"notify": plugin}, plugins={"notify": section(receiver, smtp)}
    ) as running:
        assert isinstance(running.hub.provider("notify:apprise"), AppriseNotifier)
        assert isinstance(running.hub.provider("notify:webhook"), WebhookNotifier)
        assert isinstance(running.hub.provider("notify:email"), EmailNotifier)
        for key in ("notify.apprise", "notify.webhook", "notify.email"):
            assert running.hub.flags.is_enabled(key)


async def test_without_a_mail_server_there_is_no_email_notifier(
    medianest_hub: HubHarness,
) -> None:
    async with medianest_hub.run({"notify": plugin}) as running:
        ids = {n.id for n in running.hub.registry.all("notifiers")}
        assert ids == {"notify:apprise", "notify:webhook"}


async def test_a_notification_reaches_every_receiver_embedded(
    medianest_hub: HubHarness, receiver: HttpReceiver, smtp: SmtpServer
) -> None:
    async with medianest_hub.run(
        {"notify": plugin}, plugins={"notify": section(receiver, smtp)}
    ) as running:
        ann = await _user_with_email(running, "ann", "ann@example.org")
        await running.hub.notify(_notification(ann, receiver, webhook_path="/webhook/ann"))
        await running.hub.jobs.join()
    _check_deliveries(receiver, smtp, "/webhook/ann")


async def test_a_refusing_receiver_does_not_hold_up_the_others(
    medianest_hub: HubHarness, receiver: HttpReceiver, smtp: SmtpServer
) -> None:
    receiver.answer("/webhook/gone", Answer(status=410))
    async with medianest_hub.run(
        {"notify": plugin}, plugins={"notify": section(receiver, smtp)}
    ) as running:
        ann = await _user_with_email(running, "ann", "ann@example.org")
        await running.hub.notify(_notification(ann, receiver, webhook_path="/webhook/gone"))
        await running.hub.jobs.join()
    _check_deliveries(receiver, smtp, "/webhook/gone")
    assert [r.path for r in receiver.requests].count("/webhook/gone") == 1, "410 is final"


async def test_check_address_refuses_private_webhooks_inside_the_hub(
    medianest_hub: HubHarness, receiver: HttpReceiver
) -> None:
    async with medianest_hub.run({"notify": plugin}) as running:
        webhook = running.hub.provider("notify:webhook")
        with pytest.raises(InvalidInputError, match="loopback"):
            await webhook.check_address(f"{receiver.url}/hook")


async def test_a_switched_off_notifier_delivers_nothing(
    medianest_hub: HubHarness, receiver: HttpReceiver, smtp: SmtpServer
) -> None:
    async with medianest_hub.run(
        {"notify": plugin}, plugins={"notify": section(receiver, smtp)}
    ) as running:
        with running.hub.database.activate():
            await running.hub.flags.set("notify.webhook", False, by="test")
        ann = await _user_with_email(running, "ann", "ann@example.org")
        await running.hub.notify(_notification(ann, receiver, webhook_path="/webhook/ann"))
        await running.hub.jobs.join()
    assert {r.path for r in receiver.requests} == {"/apprise/ann", "/apprise/admins"}
    assert len(smtp.handler.mails) == 2


@pytest.mark.slow  # runs a worker process of its own
async def test_a_notification_reaches_every_receiver_scaled_through_a_worker(
    medianest_hub: HubHarness,
    receiver: HttpReceiver,
    smtp: SmtpServer,
    migrated_postgres_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    from tests.cli_helpers import medianest
    from tests.services import SECRET_KEY

    notify = section(receiver, smtp)
    settings = {"database_url": migrated_postgres_url, "redis_url": redis_url}
    async with medianest_hub.run(
        {"notify": plugin}, secret_key=SECRET_KEY, plugins={"notify": notify}, **settings
    ) as running:
        ann = await _user_with_email(running, "ann", "ann@example.org")
        await running.hub.notify(_notification(ann, receiver, webhook_path="/webhook/ann"))
        assert receiver.requests == [], "queued for a worker, not delivered by the API"
        result = await asyncio.to_thread(
            medianest,
            tmp_path,
            "worker",
            "--burst",
            MEDIANEST_DATABASE_URL=migrated_postgres_url,
            MEDIANEST_REDIS_URL=redis_url,
            MEDIANEST_SECRET_KEY=SECRET_KEY,
            MEDIANEST_FEATURES__NOTIFY="true",
            MEDIANEST_PLUGINS__NOTIFY__APPRISE=json.dumps(notify["apprise"]),
            MEDIANEST_PLUGINS__NOTIFY__WEBHOOK=json.dumps(notify["webhook"]),
            MEDIANEST_PLUGINS__NOTIFY__EMAIL=json.dumps(notify["email"]),
        )
        assert result.returncode == 0, result.stderr
    _check_deliveries(receiver, smtp, "/webhook/ann")


async def test_startup_says_when_the_mail_server_does_not_answer(
    medianest_hub: HubHarness,
    receiver: HttpReceiver,
    smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notify = section(receiver, smtp)
    notify["email"] = notify["email"] | {"port": port}
    with caplog.at_level("INFO", logger="medianest_notify.plugin"):
        async with medianest_hub.run({"notify": plugin}, plugins={"notify": notify}):
            pass
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(
        "email notifications will be retried" in m and f"127.0.0.1:{port}" in m for m in warnings
    ), warnings


async def test_startup_checks_a_working_mail_server_quietly(
    medianest_hub: HubHarness,
    receiver: HttpReceiver,
    smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("INFO", logger="medianest_notify.plugin"):
        async with medianest_hub.run(
            {"notify": plugin}, plugins={"notify": section(receiver, smtp)}
        ):
            pass
    messages = [r.getMessage() for r in caplog.records]
    assert f"the mail server 127.0.0.1:{smtp.port} answers" in messages
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


async def test_bad_settings_stop_the_hub_naming_the_field_not_the_secret(
    medianest_hub: HubHarness,
) -> None:
    notify = {"apprise": {"admin_urls": ["json://localhost/ok", "nosuchservice://tok-secret"]}}
    with pytest.raises(SettingsError) as raised:
        async with medianest_hub.run({"notify": plugin}, plugins={"notify": notify}):
            pass
    message = str(raised.value)
    assert "plugins.notify.apprise.admin_urls.1" in message
    assert "does not know the scheme nosuchservice://" in message
    assert "tok-secret" not in message
