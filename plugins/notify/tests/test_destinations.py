"""The rule against server-side request forgery: private destinations refused unless allowed,
when the address is saved and again when a delivery connects."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from notify_testkit import HttpReceiver

from medianest.sdk import InvalidInputError, Notification, Recipient
from medianest_notify import destinations
from medianest_notify.destinations import refusal
from medianest_notify.settings import WebhookSettings
from medianest_notify.webhook_notifier import WebhookNotifier

ANN = Recipient(user_id=3, username="ann")
NOTE = Notification(event_type="request.available", title="Dune", recipients=(ANN,))


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "a private network"),
        ("172.16.0.9", "a private network"),
        ("192.168.1.10", "a private network"),
        ("100.64.0.1", "shared address space (carrier-grade NAT)"),
        ("169.254.169.254", "a link-local network"),
        ("fe80::1", "a link-local network"),
        ("fc00::1", "a unique-local network"),
        ("fd12:3456::1", "a unique-local network"),
        ("fec0::1", "a site-local network"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "the unspecified address"),  # noqa: S104 - not bound, only checked
        ("::", "the unspecified address"),
        ("240.0.0.1", "a reserved range"),
        ("::ffff:127.0.0.1", "loopback (inside an IPv6 address)"),
        ("::ffff:10.0.0.1", "a private network (inside an IPv6 address)"),
        ("64:ff9b::a9fe:a9fe", "a link-local network (inside an IPv6 address)"),
        ("2002:7f00:1::", "loopback (inside an IPv6 address)"),
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str, kind: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def notifier(*, allow: bool) -> WebhookNotifier:
    return WebhookNotifier(WebhookSettings(allow_private_destinations=allow, timeout=2.0))


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "2130706433",  # 127.0.0.1 as one number
        "0x7f.0.0.1",
        "169.254.169.254",
    ],
)
async def test_saving_a_private_destination_is_refused(host: str) -> None:
    hook = notifier(allow=False)
    try:
        with pytest.raises(InvalidInputError) as raised:
            await hook.check_address(f"http://{host}:8080/hook")
    finally:
        await hook.aclose()
    assert raised.value.field == "url"
    assert "refused unless an admin allows private destinations" in raised.value.message


async def test_a_host_that_does_not_resolve_is_refused_when_saved() -> None:
    hook = notifier(allow=False)
    try:
        with pytest.raises(InvalidInputError, match="does not resolve") as raised:
            await hook.check_address("https://no-such-host.invalid/hook")
    finally:
        await hook.aclose()
    assert raised.value.field == "url"


async def test_delivery_to_a_private_destination_is_refused_and_nothing_is_sent(
    receiver: HttpReceiver,
) -> None:
    hook = notifier(allow=False)
    try:
        for url in (f"{receiver.url}/hook", f"http://localhost:{receiver.port}/hook"):
            with pytest.raises(InvalidInputError, match="loopback") as raised:
                await hook.send(NOTE, ANN, url)
            assert raised.value.field == "url"
    finally:
        await hook.aclose()
    assert receiver.requests == [], "the connection is refused before it is made"


async def test_admins_may_allow_private_destinations(receiver: HttpReceiver) -> None:
    hook = notifier(allow=True)
    try:
        url = f"http://localhost:{receiver.port}/hook"
        assert await hook.check_address(url) == url
        await hook.send(NOTE, ANN, url)
    finally:
        await hook.aclose()
    assert [r.path for r in receiver.requests] == ["/hook"]
    assert receiver.requests[0].header("host") == f"localhost:{receiver.port}"


async def test_a_name_that_turns_private_after_it_was_saved_is_refused_at_delivery(
    receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"hooks.example": [ipaddress.ip_address("93.184.216.34")]}

    async def fake_resolve(host: str, port: int) -> list[Any]:
        return answers[host]

    monkeypatch.setattr(destinations, "resolve", fake_resolve)
    hook = notifier(allow=False)
    url = f"http://hooks.example:{receiver.port}/hook"
    try:
        assert await hook.check_address(url) == url, "public when saved"
        answers["hooks.example"] = [ipaddress.ip_address("127.0.0.1")]  # DNS rebinding
        with pytest.raises(InvalidInputError, match="resolves to loopback"):
            await hook.send(NOTE, ANN, url)
    finally:
        await hook.aclose()
    assert receiver.requests == []
