"""The email notifier against a real SMTP server (aiosmtpd) on loopback, plain and STARTTLS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from notify_testkit import SmtpServer, self_signed, smtp_server

from medianest.sdk import (
    InvalidInputError,
    Notification,
    PermissionDeniedError,
    Recipient,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from medianest_notify.email_notifier import EmailNotifier, check_smtp
from medianest_notify.settings import EmailSettings, NotifySettings

ANN = Recipient(user_id=3, username="ann")
NOTE = Notification(
    event_type="request.available",
    title='Dune <b>"Part Two"</b>\nBcc: victim@example.org \u00e9t\u00e9',
    body="It is in the library now.\n\nEnjoy & share <script>alert(1)</script>",
    link='https://hub.example/media/plex:home/42?a=1&b="2"',
    image="https://img.example/poster.jpg",
    recipients=(ANN,),
)


def email(server: SmtpServer, **settings: Any) -> EmailNotifier:
    base = {
        "host": server.host,
        "port": server.port,
        "tls": "none",
        "from_address": "hub@medianest.example",
        "timeout": 3.0,
    }
    return EmailNotifier(EmailSettings.model_validate(base | settings))


async def test_a_notification_becomes_a_text_and_html_email(smtp: SmtpServer) -> None:
    await email(smtp).send(NOTE, ANN, "ann@example.org")
    (mail,) = smtp.handler.mails
    assert mail.mail_from == "hub@medianest.example"
    assert mail.rcpt_tos == ["ann@example.org"], "a title cannot add recipients"
    message = mail.message
    assert message["Subject"] == 'Dune <b>"Part Two"</b> Bcc: victim@example.org \u00e9t\u00e9'
    assert message["From"] == "MediaNest <hub@medianest.example>"
    assert message["To"] == "ann@example.org"
    assert message["Bcc"] is None
    assert message["Message-ID"].endswith("@medianest.example>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-MediaNest-Event"] == "request.available"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    plain = text.get_content().replace("\r\n", "\n")
    assert NOTE.title in plain
    assert "Enjoy & share <script>alert(1)</script>" in plain
    assert 'Open: https://hub.example/media/plex:home/42?a=1&b="2"' in plain
    markup = html.get_content()
    assert "<script>" not in markup and "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "Dune &lt;b&gt;&quot;Part Two&quot;&lt;/b&gt;" in markup
    assert 'href="https://hub.example/media/plex:home/42?a=1&amp;b=&quot;2&quot;"' in markup
    assert ">Open in MediaNest</a>" in markup
    assert '<img src="https://img.example/poster.jpg"' in markup


async def test_the_message_id_is_the_same_when_a_delivery_is_retried(smtp: SmtpServer) -> None:
    notifier = email(smtp)
    await notifier.send(NOTE, ANN, "ann@example.org")
    await notifier.send(NOTE, ANN, "ann@example.org")
    await notifier.send(NOTE, ANN, "ann@example.org", delivery_id="core-17")
    ids = [m.message["Message-ID"] for m in smtp.handler.mails]
    assert ids[0] == ids[1]
    assert ids[2] == "<core-17@medianest.example>"


async def test_the_admin_channel_is_one_message_to_every_admin_address(smtp: SmtpServer) -> None:
    notifier = email(smtp, admin_addresses=["root@example.org", "ops@example.org"])
    await notifier.send(NOTE, Recipient.for_role("admin"), None)
    await notifier.send(NOTE, Recipient.for_role("user"), None)
    (mail,) = smtp.handler.mails
    assert mail.rcpt_tos == ["root@example.org", "ops@example.org"]


@pytest.fixture
async def tls_smtp(tmp_path: Path) -> AsyncIterator[tuple[SmtpServer, Path]]:
    context, cert = self_signed(tmp_path)
    async with smtp_server(
        tls_context=context, require_starttls=True, credentials=("hub", "s3cret-pass")
    ) as server:
        yield server, cert


async def test_starttls_with_a_trusted_certificate_and_a_login(
    tls_smtp: tuple[SmtpServer, Path],
) -> None:
    server, cert = tls_smtp
    notifier = email(
        server, tls="starttls", ca_file=str(cert), username="hub", password="s3cret-pass"
    )
    await notifier.send(NOTE, ANN, "ann@example.org")
    (mail,) = server.handler.mails
    assert mail.tls, "the message went over TLS"
    assert mail.login == "hub"
    assert await check_smtp(notifier.settings) is None


async def test_a_refused_password_is_permanent_and_not_shown(
    tls_smtp: tuple[SmtpServer, Path],
) -> None:
    server, cert = tls_smtp
    notifier = email(server, tls="starttls", ca_file=str(cert), username="hub", password="wrong-pw")
    with pytest.raises(PermissionDeniedError, match="refused the username and password") as raised:
        await notifier.send(NOTE, ANN, "ann@example.org")
    assert "wrong-pw" not in str(raised.value)
    problem = await check_smtp(notifier.settings)
    assert problem is not None and "refused the username and password" in problem


async def test_an_untrusted_certificate_is_retried_and_says_why(
    tls_smtp: tuple[SmtpServer, Path],
) -> None:
    server, _ = tls_smtp
    notifier = email(server, tls="starttls", username="hub", password="s3cret-pass")
    with pytest.raises(UpstreamUnreachableError, match="certificate"):
        await notifier.send(NOTE, ANN, "ann@example.org")


async def test_starttls_asked_of_a_server_without_it_is_a_settings_problem(
    smtp: SmtpServer,
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        await email(smtp, tls="starttls").send(NOTE, ANN, "ann@example.org")
    assert raised.value.field == "email.tls"


async def test_a_refused_mailbox_is_permanent_and_a_deferred_one_retried(
    smtp: SmtpServer,
) -> None:
    smtp.handler.refuse.add("gone@example.org")
    smtp.handler.defer.add("busy@example.org")
    notifier = email(smtp)
    with pytest.raises(InvalidInputError, match="550") as refused:
        await notifier.send(NOTE, ANN, "gone@example.org")
    assert refused.value.field == "address"
    with pytest.raises(UpstreamError, match="450"):
        await notifier.send(NOTE, ANN, "busy@example.org")
    assert smtp.handler.mails == []


async def test_an_unreachable_server_is_retried(smtp: SmtpServer) -> None:
    notifier = email(smtp)
    notifier.settings = notifier.settings.model_copy(update={"port": _closed_port()})
    with pytest.raises(UpstreamUnreachableError, match="could not reach the mail server"):
        await notifier.send(NOTE, ANN, "ann@example.org")


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_server_that_never_answers_is_a_timeout() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()  # never greets; waits for the client to give up

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        notifier = EmailNotifier(
            EmailSettings(
                host="127.0.0.1", port=port, tls="none", from_address="hub@x.example", timeout=0.5
            )
        )
        with pytest.raises(UpstreamTimeoutError):
            await notifier.send(NOTE, ANN, "ann@example.org")
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("address", "stored"),
    [
        ("ann@example.org", "ann@example.org"),
        ("  Ann.Lee+films@Example.ORG ", "Ann.Lee+films@example.org"),
        ("jos\u00e9@b\u00fccher.example", "jos\u00e9@b\u00fccher.example"),
    ],
)
async def test_good_addresses_are_stored_normalised(
    smtp: SmtpServer, address: str, stored: str
) -> None:
    assert await email(smtp).check_address(address) == stored


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("", "empty"),
        ("ann", "exactly one @"),
        ("ann@@example.org", "exactly one @"),
        ("ann@example", "needs a dot"),
        ("@example.org", "nothing before the @"),
        ("ann@", "no domain"),
        ("ann..lee@example.org", "two dots in a row"),
        (".ann@example.org", "start or end with a dot"),
        ("Ann<ann@example.org>", "without a name"),
        ("ann@example.org\r\nBcc: x@example.org", "control characters"),
        ("ann lee@example.org", "spaces"),
        ("ann@[10.0.0.1]", "not an IP address"),
        ("ann@-bad-.example", "not a valid name"),
        ("ann@example.123", "not a number"),
        ("ann(x)@example.org", "contains '('"),
        ("a" * 65 + "@example.org", "too long"),
    ],
)
async def test_bad_addresses_are_refused_saying_why(
    smtp: SmtpServer, address: str, words: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        await email(smtp).check_address(address)
    assert raised.value.field == "address"
    assert words in raised.value.message


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"host": "smtp.example.org"}, "from_address is required"),
        ({"admin_addresses": ["root@example.org"]}, "host is required"),
        (
            {"host": "smtp.example.org", "from_address": "a@example.org", "username": "u"},
            "username and password go together",
        ),
        ({"host": "smtp://smtp.example.org", "from_address": "a@example.org"}, "bare host"),
        ({"host": "smtp.example.org", "from_address": "not-an-address"}, "exactly one @"),
        ({"host": "h.example", "from_address": "a@example.org", "tls": "ssl"}, "none"),
        ({"host": "h.example", "from_address": "a@example.org", "port": 0}, "greater than"),
    ],
)
def test_bad_email_settings_name_the_field(section: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match="email") as raised:
        NotifySettings.model_validate({"email": section})
    assert words in str(raised.value)
