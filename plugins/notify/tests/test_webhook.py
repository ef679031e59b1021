"""The webhook notifier against a real HTTP receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import time
from pathlib import Path

import pytest
from notify_testkit import Answer, HttpReceiver, http_receiver, self_signed

from medianest.sdk import (
    InvalidInputError,
    Notification,
    PermissionDeniedError,
    Recipient,
    RequestRef,
    SourceRef,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from medianest_notify.destinations import GuardedTransport
from medianest_notify.settings import WebhookSettings
from medianest_notify.webhook_notifier import WebhookNotifier, verify

TRICKY = 'Dune: "Part Two"\n"}, {"x": 1} \\ \u00e9t\u00e9 \U0001f3ac <b>&amp;</b>\u2028'
SECRET = "a-signing-secret-of-some-length"
ANN = Recipient(user_id=3, username="ann")
NOTE = Notification(
    event_type="request.available",
    title=TRICKY,
    body='Line one\nLine "two"\ttab',
    link="https://hub.example/requests/7",
    image="https://img.example/poster.jpg",
    media=SourceRef(source="plex:home", item_id="42"),
    request=RequestRef(backend="overseerr:main", request_id="7"),
    recipients=(ANN,),
)


def notifier(**settings: object) -> WebhookNotifier:
    options: dict[str, object] = {"allow_private_destinations": True, "timeout": 2.0}
    return WebhookNotifier(WebhookSettings.model_validate(options | settings))


async def test_the_default_body_is_valid_json_whatever_the_title(receiver: HttpReceiver) -> None:
    hook = notifier()
    try:
        await hook.send(NOTE, ANN, f"{receiver.url}/hook")
    finally:
        await hook.aclose()
    (got,) = receiver.requests
    assert got.method == "POST"
    assert got.path == "/hook"
    assert got.header("content-type") == "application/json; charset=utf-8"
    body = json.loads(got.body.decode("utf-8"))
    assert body["subject"] == TRICKY
    assert body["message"] == NOTE.body
    assert body["event"] == "request.available"
    assert body["link"] == "https://hub.example/requests/7"
    assert body["media"] == {"source": "plex:home", "item_id": "42"}
    assert body["request"] == {"backend": "overseerr:main", "id": "7"}
    assert body["user"] == "ann"
    assert body["ids"] == {"tmdb": None, "imdb": None, "tvdb": None}
    assert body["delivery_id"] == got.header("idempotency-key")
    assert got.header("x-medianest-event") == "request.available"
    assert got.header("x-medianest-signature") is None, "no secret, no signature"


async def test_a_custom_template_fills_placeholders_inside_strings(
    receiver: HttpReceiver,
) -> None:
    template = {
        "content": "New: {{subject}} for {{user}} (#{{request.id}})",
        "embeds": [{"title": "{{subject}}", "url": "{{link}}", "n": 3, "ok": True}],
        "raw_user_id": "{{user.id}}",
        "nothing": "{{media.url}}",
        "{{subject}}": "keys stay as written",
    }
    address = json.dumps({"url": f"{receiver.url}/custom", "template": template})
    hook = notifier()
    try:
        stored = await hook.check_address(address)
        await hook.send(NOTE, ANN, stored)
    finally:
        await hook.aclose()
    body = json.loads(receiver.requests[0].body)
    assert body["content"] == f"New: {TRICKY} for ann (#7)"
    assert body["embeds"] == [
        {"title": TRICKY, "url": "https://hub.example/requests/7", "n": 3, "ok": True}
    ]
    assert body["raw_user_id"] == 3, "a whole-string placeholder keeps the value's type"
    assert body["nothing"] is None
    assert body["{{subject}}"] == "keys stay as written"


async def test_the_signature_verifies_like_a_receiver_would(receiver: HttpReceiver) -> None:
    address = json.dumps({"url": f"{receiver.url}/signed", "secret": SECRET})
    hook = notifier()
    try:
        await hook.send(NOTE, ANN, address)
    finally:
        await hook.aclose()
    (got,) = receiver.requests
    timestamp = got.header("x-medianest-timestamp")
    signature = got.header("x-medianest-signature")
    assert timestamp is not None and signature is not None
    assert abs(int(timestamp) - time.time()) < 30
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + got.body, hashlib.sha256
    ).hexdigest()
    assert signature == f"sha256={expected}"
    assert verify(SECRET, timestamp, got.body, signature)
    assert not verify(SECRET, timestamp, got.body + b" ", signature), "a changed body fails"
    assert not verify("another-secret-entirely", timestamp, got.body, signature)
    assert not verify(SECRET, str(int(timestamp) - 3600), got.body, signature), "replayed"
    assert not verify(SECRET, timestamp, got.body, signature, now=time.time() + 3600)


async def test_the_idempotency_key_is_stable_across_retries(receiver: HttpReceiver) -> None:
    hook = notifier()
    other = Recipient(user_id=4, username="bob")
    try:
        await hook.send(NOTE, ANN, f"{receiver.url}/a")
        await hook.send(NOTE, ANN, f"{receiver.url}/a")
        await hook.send(NOTE, other, f"{receiver.url}/a")
        await hook.send(NOTE, ANN, f"{receiver.url}/a", delivery_id="core-delivery-17")
    finally:
        await hook.aclose()
    keys = [r.header("idempotency-key") for r in receiver.requests]
    assert keys[0] and keys[0] == keys[1], "the same delivery tried again keeps its key"
    assert keys[2] != keys[0], "another recipient is another delivery"
    assert keys[3] == "core-delivery-17", "core's own delivery id wins"


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (400, {}, InvalidInputError),
        (401, {}, PermissionDeniedError),
        (403, {}, PermissionDeniedError),
        (404, {}, InvalidInputError),
        (410, {}, InvalidInputError),
        (302, {"Location": "http://127.0.0.1:1/elsewhere"}, InvalidInputError),
        (408, {}, UpstreamError),
        (500, {}, UpstreamError),
        (503, {}, UpstreamError),
    ],
)
async def test_answers_are_classified(
    receiver: HttpReceiver, status: int, headers: dict[str, str], error: type[Exception]
) -> None:
    receiver.answer("/", Answer(status=status, body=b'{"detail": "nope"}', headers=headers))
    hook = notifier()
    try:
        with pytest.raises(error) as raised:
            await hook.send(NOTE, ANN, f"{receiver.url}/hook/token-in-path")
    finally:
        await hook.aclose()
    retried = isinstance(raised.value, UpstreamError)
    assert retried == (status == 408 or status >= 500), "4xx are permanent but 408 and 429"
    message = str(raised.value)
    assert f"HTTP {status}" in message
    assert "token-in-path" not in message, "paths may hold tokens: never shown"
    assert len(receiver.requests) == 1, "redirects are not followed"


async def test_429_asks_to_retry_after_the_receivers_delay(receiver: HttpReceiver) -> None:
    receiver.answer("/", Answer(status=429, headers={"Retry-After": "7"}))
    hook = notifier()
    try:
        with pytest.raises(UpstreamRateLimitedError) as raised:
            await hook.send(NOTE, ANN, f"{receiver.url}/hook")
    finally:
        await hook.aclose()
    assert raised.value.retry_after == 7


async def test_a_receiver_that_does_not_answer_in_time_is_retried(
    receiver: HttpReceiver,
) -> None:
    receiver.answer("/slow", Answer(delay=3.0))
    hook = notifier(timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeoutError):
            await hook.send(NOTE, ANN, f"{receiver.url}/slow")
        assert time.monotonic() - started < 2.5
    finally:
        await hook.aclose()


async def test_a_closed_port_is_unreachable_and_retried(receiver: HttpReceiver) -> None:
    url = receiver.url
    await receiver.stop()
    hook = notifier()
    try:
        with pytest.raises(UpstreamUnreachableError, match="connection refused"):
            await hook.send(NOTE, ANN, f"{url}/gone")
    finally:
        await hook.aclose()


async def test_admin_channel_posts_to_every_admin_webhook(receiver: HttpReceiver) -> None:
    hook = notifier(
        allow_private_destinations=False,
        admin_webhooks=[
            {"url": f"{receiver.url}/admins-1", "secret": SECRET},
            {"url": f"{receiver.url}/admins-2", "template": '{"text": "{{subject}}"}'},
        ],
    )
    try:
        await hook.send(NOTE, Recipient.for_role("admin"), None)
        await hook.send(NOTE, Recipient.for_role("user"), None)
    finally:
        await hook.aclose()
    paths = [r.path for r in receiver.requests]
    assert paths == ["/admins-1", "/admins-2"], "admin webhooks are trusted; no user channel"
    assert json.loads(receiver.requests[0].body)["user"] is None
    assert receiver.requests[0].header("x-medianest-signature")
    assert json.loads(receiver.requests[1].body) == {"text": TRICKY}


async def test_checking_an_address_normalises_it(receiver: HttpReceiver) -> None:
    hook = notifier()
    try:
        assert await hook.check_address(f"  {receiver.url}/x  ") == f"{receiver.url}/x"
        stored = await hook.check_address(
            json.dumps({"secret": SECRET, "url": f"{receiver.url}/y"})
        )
        assert json.loads(stored) == {"url": f"{receiver.url}/y", "secret": SECRET}
    finally:
        await hook.aclose()
    assert receiver.requests == [], "checking sends nothing"


@pytest.mark.parametrize(
    ("address", "field", "words"),
    [
        ("", "address", "empty"),
        ("ftp://example.org/x", "url", "http:// or https://"),
        ("http:///nohost", "url", "no host"),
        ("https://user:pw@example.org/x", "url", "user name or password"),
        ("http://example.org:99999/", "url", "malformed"),
        ("https://exa mple.org/", "url", "spaces"),
        ("{not json", "address", "neither a URL"),
        ("[1,2]", "url", "http:// or https://"),
        ('["https://example.org"]', "url", "http:// or https://"),
        ('{"url": 3}', "url", "needs a url"),
        ('{"url": "https://example.org", "colour": 1}', "address", "unknown keys: colour"),
        ('{"url": "https://example.org", "template": "{bad"}', "template", "not valid JSON"),
        ('{"url": "https://example.org", "template": "3"}', "template", "object or array"),
        (
            '{"url": "https://example.org", "template": {"a": "{{subjekt}}"}}',
            "template",
            "unknown placeholder {{subjekt}}",
        ),
        ('{"url": "https://example.org", "secret": "short"}', "secret", "at least 16"),
    ],
)
async def test_bad_addresses_are_refused_naming_the_problem(
    address: str, field: str, words: str
) -> None:
    hook = notifier()
    try:
        with pytest.raises(InvalidInputError) as raised:
            await hook.check_address(address)
    finally:
        await hook.aclose()
    assert raised.value.field == field
    assert words in raised.value.message


async def test_https_is_verified_against_the_url_host_while_connecting_to_the_checked_address(
    tmp_path: Path,
) -> None:
    server_tls, cert = self_signed(tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert))
    settings = WebhookSettings(allow_private_destinations=True, timeout=3.0)
    async with http_receiver(server_tls) as secure:
        hook = WebhookNotifier(
            settings, transport=GuardedTransport(allow_private=True, verify=trusted)
        )
        untrusted = WebhookNotifier(settings)
        try:
            await hook.send(NOTE, ANN, f"https://localhost:{secure.port}/tls")
            with pytest.raises(UpstreamUnreachableError):
                await untrusted.send(NOTE, ANN, f"https://localhost:{secure.port}/tls")
        finally:
            await hook.aclose()
            await untrusted.aclose()
        assert [r.path for r in secure.requests] == ["/tls"]
        assert secure.requests[0].header("host") == f"localhost:{secure.port}"
