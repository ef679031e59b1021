"""The Apprise notifier (``notify:apprise``): any Apprise URL, per person or admin channel.

A person's address of kind ``"apprise"`` is one Apprise URL (Discord, Slack, Telegram, ntfy,
Gotify, Pushover, Matrix, email...); the admin channel is the list of URLs in
``apprise.admin_urls``. Each delivery sends the title, the text and the link; with
``apprise.attach_images`` the picture is attached where the service takes attachments.

Apprise's generic services (``json://``, ``form://``, ``xml://`` and their ``s`` forms) post to
any host, like a webhook: a person's URL of that kind follows the webhooks' rule against
private destinations (``webhook.allow_private_destinations``), checked when it is saved and
before each delivery. Admin channel URLs, set by whoever runs the hub, are exempt.

Failures are :class:`~medianest.sdk.UpstreamError` (retried): the service refused, failed or
did not answer in time. Their messages name the service and Apprise's reason with every part
of the URL that may be a credential hidden.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from apprise import Apprise, AppriseAttachment
from apprise.common import NotifyFormat, NotifyType
from apprise.result import AppriseResultStatus

from medianest.sdk import (
    HubContext,
    MediaNestError,
    Notification,
    PermissionDeniedError,
    Recipient,
    UpstreamError,
    UpstreamTimeoutError,
)
from medianest_notify import apprise_urls
from medianest_notify.const import APPRISE_ID, FLAG_APPRISE, PLUGIN_KEY
from medianest_notify.delivery import plain_text, who
from medianest_notify.destinations import check_destination
from medianest_notify.settings import AppriseSettings

log = logging.getLogger(__name__)

_REASON_LIMIT = 300

GENERIC_PROTOCOLS = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
"""Apprise's services that post to any host: they follow the webhooks' private-network rule."""


class AppriseNotifier:
    """Delivers through the Apprise library to the recipient's Apprise URL, or to the admin
    channel's URLs for a role recipient."""

    id = APPRISE_ID
    name = "Apprise"
    address_kind: str | None = "apprise"

    def __init__(
        self,
        settings: AppriseSettings,
        hub: HubContext | None = None,
        *,
        allow_private: bool = False,
    ) -> None:
        self.settings = settings
        self._hub = hub
        self.allow_private = allow_private

    async def check_address(self, address: str) -> str:
        """The Apprise URL to store, once Apprise itself accepts it.

        :raises InvalidInputError: ``address``: empty, no scheme, a scheme Apprise does not
            know (named), or malformed for its service (named); the URL is never echoed.
        """
        service = apprise_urls.instantiate(address, field="address")
        await self._check_host(address, service)
        return address.strip()

    async def _check_host(self, url: str, service: Any) -> None:
        """Refuse a generic service (``json://``...) whose host is not public, unless allowed."""
        if self.allow_private or apprise_urls.scheme_of(url) not in GENERIC_PROTOCOLS:
            return
        host = str(service.host or "")
        port = int(service.port or (443 if service.secure else 80))
        await check_destination(
            f"http://{host if ':' not in host else f'[{host}]'}:{port}/",
            allow_private=False,
            field="address",
        )

    async def send(
        self,
        notification: Notification,
        recipient: Recipient,
        address: str | None,
        *,
        delivery_id: str | None = None,
    ) -> None:
        """Deliver to ``address`` (a user) or to every admin channel URL (a role).

        :raises UpstreamError: the service refused or failed (``UpstreamTimeoutError`` when it
            did not answer within ``apprise.timeout``); retried by core.
        :raises InvalidInputError: the stored URL no longer parses (permanent).
        :raises PermissionDeniedError: an admin switched Apprise deliveries off (flag
            ``notify.apprise``).
        """
        if self._hub is not None and not self._hub.flags.is_enabled(FLAG_APPRISE):
            raise PermissionDeniedError(
                "Apprise deliveries are switched off (flag notify.apprise)", plugin=PLUGIN_KEY
            )
        urls = self._targets(recipient, address)
        if not urls:
            log.debug("no Apprise channel for %s: nothing to deliver", who(recipient))
            return
        failure: MediaNestError | None = None
        for index, url in enumerate(urls):
            field = "address" if address is not None else f"apprise.admin_urls.{index}"
            try:
                await self._deliver(notification, url, field, checked=address is not None)
            except MediaNestError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    def _targets(self, recipient: Recipient, address: str | None) -> Sequence[str]:
        if address is not None:
            return [address]
        if recipient.role == "admin":
            return [url.get_secret_value() for url in self.settings.admin_urls]
        return []

    async def _deliver(
        self, notification: Notification, url: str, field: str, *, checked: bool
    ) -> None:
        service = apprise_urls.instantiate(url, field=field)
        if checked:
            await self._check_host(url, service)
        name = str(service.service_name)
        bundle = Apprise(asset=apprise_urls.asset())
        bundle.add(service)
        attach: Any = None
        if (
            self.settings.attach_images
            and notification.image
            and notification.image.startswith(("http://", "https://"))
            and getattr(service, "attachment_support", False)
        ):
            attach = AppriseAttachment(notification.image, asset=apprise_urls.asset())
        try:
            result = await bundle.async_notify(
                body=plain_text(notification),
                title=notification.title,
                notify_type=NotifyType.INFO,
                body_format=NotifyFormat.TEXT,
                attach=attach,
                timeout=self.settings.timeout,
            )
        except Exception as exc:  # Apprise's services raise what their libraries raise
            reason = apprise_urls.redact(f"{type(exc).__name__}: {exc}", url)[:_REASON_LIMIT]
            raise UpstreamError(
                f"Apprise could not deliver to {name}: {reason}", source=self.id, plugin=PLUGIN_KEY
            ) from None
        with result:
            status = result.status
            reason = self._reason(result, url)
        if status == AppriseResultStatus.SUCCESS:
            return
        if status == AppriseResultStatus.TIMEOUT:
            raise UpstreamTimeoutError(
                f"{name} did not answer within {self.settings.timeout:g} s (Apprise)",
                source=self.id,
                plugin=PLUGIN_KEY,
            )
        raise UpstreamError(
            f"{name} refused or failed the notification (Apprise)"
            + (f": {reason}" if reason else ""),
            source=self.id,
            plugin=PLUGIN_KEY,
        )

    @staticmethod
    def _reason(result: Any, url: str) -> str:
        """Apprise's last warning or error about the delivery, secrets hidden."""
        messages = [
            entry.message
            for entry in result.logs()
            if str(entry.level).upper() in ("WARNING", "ERROR", "CRITICAL")
        ]
        if not messages:
            return ""
        return apprise_urls.redact(" / ".join(messages[-2:]), url)[:_REASON_LIMIT]
