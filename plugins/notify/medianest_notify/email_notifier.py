"""The email notifier (``notify:email``): SMTP with aiosmtplib, plain text and HTML.

A person's address of kind ``"email"`` is their email address (core fills it in from their
account); the admin channel is ``email.admin_addresses``, in one message. Errors say whether
to try again:

======================================================  ===============================
what happened                                           raised
======================================================  ===============================
connection refused, dropped, TLS handshake failed        ``UpstreamUnreachableError`` (retry)
no answer within ``email.timeout``                       ``UpstreamTimeoutError`` (retry)
4xx answer (greylisting, mailbox busy, server busy)      ``UpstreamError`` (retry)
username/password refused                                ``PermissionDeniedError`` (permanent)
5xx answer to the recipient (no such mailbox)            ``InvalidInputError`` (permanent)
other 5xx answer, STARTTLS not offered                   ``InvalidInputError`` (permanent)
======================================================  ===============================
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from typing import Any

import aiosmtplib

from medianest.sdk import (
    HealthStatus,
    HubContext,
    InvalidInputError,
    Notification,
    PermissionDeniedError,
    Recipient,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from medianest_notify.addresses import check_email
from medianest_notify.const import EMAIL_ID, FLAG_EMAIL, PLUGIN_KEY
from medianest_notify.delivery import delivery_id_of, who
from medianest_notify.email_message import build_message
from medianest_notify.settings import EmailSettings, TlsMode

log = logging.getLogger(__name__)

_REPLY_LIMIT = 200


def _tls_context(settings: EmailSettings) -> ssl.SSLContext | None:
    if settings.tls == TlsMode.NONE:
        return None
    context = ssl.create_default_context(cafile=settings.ca_file)
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def smtp_options(settings: EmailSettings) -> dict[str, Any]:
    """The keyword arguments of ``aiosmtplib.SMTP``/``send`` for ``settings``."""
    assert settings.host is not None
    return {
        "hostname": settings.host,
        "port": settings.effective_port,
        "username": settings.username,
        "password": settings.password.get_secret_value() if settings.password else None,
        "use_tls": settings.tls == TlsMode.TLS,
        "start_tls": settings.tls == TlsMode.STARTTLS,
        "tls_context": _tls_context(settings),
        "timeout": settings.timeout,
    }


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    text = " ".join(str(exc.message).split())[:_REPLY_LIMIT]
    return f"{exc.code} {text}".strip()


def translate(exc: Exception, server: str, source: str) -> Exception:
    """The SDK error for what aiosmtplib (or the network) raised (see the module's table)."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return PermissionDeniedError(
            f"the mail server {server} refused the username and password ({_reply(exc)})",
            plugin=PLUGIN_KEY,
        )
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return UpstreamTimeoutError(
            f"the mail server {server} did not answer in time", source=source, plugin=PLUGIN_KEY
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        first = exc.recipients[0] if exc.recipients else None
        if first is not None and first.code < 500:
            return UpstreamError(
                f"the mail server {server} deferred the recipient ({_reply(first)})",
                source=source,
                plugin=PLUGIN_KEY,
            )
        reply = f" ({_reply(first)})" if first is not None else ""
        return InvalidInputError(
            f"the mail server {server} refused the recipient's address{reply}",
            field="address",
            plugin=PLUGIN_KEY,
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or (
        type(exc) is aiosmtplib.SMTPException and "not supported" in str(exc)
    ):
        return InvalidInputError(
            f"the mail server {server} does not support what the settings ask for "
            f"({exc}); check email.tls",
            field="email.tls",
            plugin=PLUGIN_KEY,
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
        exc, aiosmtplib.SMTPConnectResponseError
    ):
        if exc.code < 500:
            return UpstreamError(
                f"the mail server {server} answered {_reply(exc)}; trying again later",
                source=source,
                plugin=PLUGIN_KEY,
            )
        field = "email.from_address" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else None
        return InvalidInputError(
            f"the mail server {server} refused the message ({_reply(exc)})",
            field=field,
            plugin=PLUGIN_KEY,
        )
    if isinstance(exc, ssl.SSLError):
        return UpstreamUnreachableError(
            f"the TLS handshake with the mail server {server} failed ({exc.reason or exc}); is "
            "its certificate trusted (email.ca_file)?",
            source=source,
            plugin=PLUGIN_KEY,
        )
    if isinstance(exc, aiosmtplib.SMTPException | OSError):
        reason = " ".join(str(exc).split())[:_REPLY_LIMIT] or type(exc).__name__
        return UpstreamUnreachableError(
            f"could not reach the mail server {server}: {reason}", source=source, plugin=PLUGIN_KEY
        )
    return UpstreamError(
        f"sending through the mail server {server} failed: {type(exc).__name__}",
        source=source,
        plugin=PLUGIN_KEY,
    )


class EmailNotifier:
    """Sends each notification as an email through the configured SMTP server."""

    id = EMAIL_ID
    name = "Email"
    address_kind: str | None = "email"

    def __init__(self, settings: EmailSettings, hub: HubContext | None = None) -> None:
        if not settings.enabled or settings.from_address is None:
            raise ValueError("the email notifier needs email.host and email.from_address")
        self.settings = settings
        self.sender = settings.from_address
        self.server = f"{settings.host}:{settings.effective_port}"
        self._hub = hub

    async def health(self) -> HealthStatus:
        """Whether the mail server answers, takes TLS as configured and the credentials
        (``medianest config check`` and the startup check ask). Returns, never raises."""
        problem = await check_smtp(self.settings)
        if problem:
            return HealthStatus(ok=False, detail=problem)
        return HealthStatus(ok=True, detail=f"the mail server {self.server} answers")

    async def check_address(self, address: str) -> str:
        """The email address to store (trimmed, domain in lower case), checked by its form
        only: nothing is looked up or sent.

        :raises InvalidInputError: ``address``, saying what is wrong with it.
        """
        return check_email(address, field="address")

    async def send(
        self,
        notification: Notification,
        recipient: Recipient,
        address: str | None,
        *,
        delivery_id: str | None = None,
    ) -> None:
        """Send to ``address`` (a user) or to the admin addresses (a role) in one message.

        :raises UpstreamError: retry later; ``PermissionDeniedError``/``InvalidInputError``:
            permanent (see the module's table).
        """
        if self._hub is not None and not self._hub.flags.is_enabled(FLAG_EMAIL):
            raise PermissionDeniedError(
                "email deliveries are switched off (flag notify.email)", plugin=PLUGIN_KEY
            )
        to: Sequence[str]
        if address is not None:
            to = [check_email(address, field="address")]
        elif recipient.role == "admin":
            to = list(self.settings.admin_addresses)
        else:
            to = []
        if not to:
            log.debug("no email address for %s: nothing to deliver", who(recipient))
            return
        message = build_message(
            notification,
            sender=self.sender,
            sender_name=self.settings.from_name,
            to=to,
            delivery_id=delivery_id_of(notification, self.id, recipient, address, delivery_id),
        )
        try:
            await aiosmtplib.send(message, **smtp_options(self.settings))
        except Exception as exc:
            raise translate(exc, self.server, self.id) from None


async def check_smtp(settings: EmailSettings) -> str | None:
    """Whether the mail server answers: connect, upgrade to TLS as configured, sign in when a
    username is set, and leave. ``None`` when all went well, else why not (no secrets)."""
    server = f"{settings.host}:{settings.effective_port}"
    options = smtp_options(settings)
    username, password = options.pop("username"), options.pop("password")
    client = aiosmtplib.SMTP(**options)
    try:
        await client.connect()
        if username and password:
            await client.login(username, password)
        await client.quit()
    except Exception as exc:
        error = translate(exc, server, EMAIL_ID)
        return str(getattr(error, "message", error))
    finally:
        if client.is_connected:
            client.close()
    return None
