"""The Apprise notifier delivering through the real Apprise library to a receiver on loopback:
Apprise's ``json://`` and ``form://`` services, and its Discord service with its webhook
endpoint moved to the receiver (Apprise has no setting for a Discord-compatible host, so the
test moves the plugin's class-level endpoint; the payload is Apprise's real Discord one)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from apprise.plugins.discord import NotifyDiscord
from notify_testkit import Answer, HttpReceiver

from medianest.sdk import (
    InvalidInputError,
    Notification,
    Recipient,
    UpstreamError,
    UpstreamTimeoutError,
)
from medianest_notify.apprise_notifier import AppriseNotifier
from medianest_notify.settings import AppriseSettings, NotifySettings

ANN = Recipient(user_id=3, username="ann")
TITLE = 'Dune: "Part Two" \u00e9t\u00e9 \U0001f3ac'
NOTE = Notification(
    event_type="request.available",
    title=TITLE,
    body="It is in the library now.",
    link="https://hub.example/media/plex:home/42",
    recipients=(ANN,),
)


def notifier(**settings: object) -> AppriseNotifier:
    return AppriseNotifier(
        AppriseSettings.model_validate({"timeout": 5.0} | settings), allow_private=True
    )


async def test_json_url_receives_title_text_and_link(receiver: HttpReceiver) -> None:
    url = f"json://127.0.0.1:{receiver.port}/apprise/json"
    stored = await notifier().check_address(f"  {url} ")
    assert stored == url
    await notifier().send(NOTE, ANN, stored)
    (got,) = receiver.requests
    assert got.method == "POST"
    assert got.path == "/apprise/json"
    body = json.loads(got.body)
    assert body["title"] == TITLE
    assert body["message"] == "It is in the library now.\n\nhttps://hub.example/media/plex:home/42"
    assert body["type"] == "info"


async def test_form_url_receives_the_fields(receiver: HttpReceiver) -> None:
    await notifier().send(NOTE, ANN, f"form://127.0.0.1:{receiver.port}/apprise/form")
    (got,) = receiver.requests
    assert got.path == "/apprise/form"
    assert (got.header("content-type") or "").startswith("application/x-www-form-urlencoded")
    fields = parse_qs(got.body.decode())
    assert fields["title"] == [TITLE]
    assert "https://hub.example/media/plex:home/42" in fields["message"][0]


@pytest.fixture
def discord_at(receiver: HttpReceiver) -> Iterator[str]:
    """Apprise's Discord service posting to the receiver instead of discord.com."""
    original = NotifyDiscord.notify_url
    NotifyDiscord.notify_url = f"{receiver.url}/api/webhooks"
    try:
        yield "discord://1234567890/webhook-token-abc"
    finally:
        NotifyDiscord.notify_url = original


async def test_discord_url_gets_a_discord_webhook_payload(
    receiver: HttpReceiver, discord_at: str
) -> None:
    receiver.answer("/api/webhooks", Answer(status=204, body=b""))
    await notifier().send(NOTE, ANN, discord_at)
    (got,) = receiver.requests
    assert got.path.startswith("/api/webhooks/1234567890/webhook-token-abc")
    payload = json.loads(got.body)
    assert payload["content"].startswith(TITLE)
    assert "It is in the library now." in payload["content"]
    assert "https://hub.example/media/plex:home/42" in payload["content"]


async def test_admin_channel_reaches_every_admin_url(receiver: HttpReceiver) -> None:
    settings = NotifySettings.model_validate(
        {
            "apprise": {
                "admin_urls": [
                    f"json://127.0.0.1:{receiver.port}/admins-1",
                    f"json://127.0.0.1:{receiver.port}/admins-2",
                ]
            }
        }
    )
    apprise = AppriseNotifier(settings.apprise)
    await apprise.send(NOTE, Recipient.for_role("admin"), None)
    await apprise.send(NOTE, Recipient.for_role("user"), None)
    assert sorted(r.path for r in receiver.requests) == ["/admins-1", "/admins-2"]


async def test_a_failing_service_is_retried_and_its_secrets_are_not_shown(
    receiver: HttpReceiver,
) -> None:
    receiver.answer("/", Answer(status=500, body=b"broken"))
    url = f"json://hookuser:pa55word-xyz@127.0.0.1:{receiver.port}/path-token-123"
    with pytest.raises(UpstreamError) as raised:
        await notifier().send(NOTE, ANN, url)
    message = str(raised.value)
    assert "JSON" in message
    for secret in ("pa55word-xyz", "hookuser", "path-token-123"):
        assert secret not in message
    assert receiver.requests, "Apprise did try"


async def test_a_service_that_does_not_answer_in_time_is_a_timeout(
    receiver: HttpReceiver,
) -> None:
    receiver.answer("/slow", Answer(delay=2.0))
    with pytest.raises(UpstreamTimeoutError):
        await notifier(timeout=0.5).send(NOTE, ANN, f"json://127.0.0.1:{receiver.port}/slow")


async def test_an_unreachable_service_is_retried(receiver: HttpReceiver) -> None:
    port = receiver.port
    await receiver.stop()
    with pytest.raises(UpstreamError):
        await notifier().send(NOTE, ANN, f"json://127.0.0.1:{port}/gone")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "empty"),
        ("not a url at all", "not an Apprise URL"),
        ("https//missing-colon", "not an Apprise URL"),
        ("nosuchservice://token-abcdef", "does not know the scheme nosuchservice://"),
        ("discord://only-an-id-secret", "Discord URL (discord://) is malformed"),
        ("tgram://", "Telegram URL (tgram://) is malformed"),
    ],
)
async def test_bad_urls_are_refused_naming_the_problem_not_the_url(url: str, words: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        await notifier().check_address(url)
    assert raised.value.field == "address"
    assert words in raised.value.message
    assert "only-an-id-secret" not in raised.value.message
    assert "token-abcdef" not in raised.value.message


def test_bad_admin_urls_stop_the_settings_naming_the_entry() -> None:
    with pytest.raises(ValueError, match=r"apprise\.admin_urls\.1") as raised:
        NotifySettings.model_validate(
            {"apprise": {"admin_urls": ["json://localhost/x", "nosuchservice://a-secret"]}}
        )
    assert "does not know the scheme nosuchservice://" in str(raised.value)


async def test_the_picture_is_attached_when_asked_and_the_service_takes_it(
    receiver: HttpReceiver,
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    receiver.answer("/poster.png", Answer(body=png, headers={"Content-Type": "image/png"}))
    note = NOTE.model_copy(update={"image": f"{receiver.url}/poster.png"})
    await notifier(attach_images=True).send(note, ANN, f"json://127.0.0.1:{receiver.port}/with")
    await notifier().send(note, ANN, f"json://127.0.0.1:{receiver.port}/without")
    posts = {r.path: json.loads(r.body) for r in receiver.requests if r.method == "POST"}
    (attached,) = posts["/with"]["attachments"]
    assert attached["mimetype"] == "image/png"
    assert not posts["/without"].get("attachments")


async def test_generic_services_follow_the_private_destination_rule(
    receiver: HttpReceiver,
) -> None:
    strict = AppriseNotifier(AppriseSettings(timeout=5.0))
    for url in (
        f"json://127.0.0.1:{receiver.port}/x",
        f"forms://localhost:{receiver.port}/x",
        "xml://169.254.169.254/latest/meta-data",
    ):
        with pytest.raises(InvalidInputError, match="refused unless an admin allows") as raised:
            await strict.check_address(url)
        assert raised.value.field == "address"
    with pytest.raises(InvalidInputError, match="loopback"):
        await strict.send(NOTE, ANN, f"json://127.0.0.1:{receiver.port}/x")
    assert receiver.requests == [], "refused before Apprise connects"
    assert await strict.check_address("discord://1234567890/token") == (
        "discord://1234567890/token"
    ), "services with their own fixed host are not concerned"
