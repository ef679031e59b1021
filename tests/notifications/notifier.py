"""A webhook notifier for tests and benchmarks, built only on the SDK."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from medianest.sdk import hookimpl
from medianest.sdk.errors import InvalidInputError, UpstreamError, UpstreamRateLimitedError
from medianest.sdk.models import Notification, Recipient


class WebhookNotifier:
    """Posts JSON to the person's webhook URL (admins: to ``admin_url``), with the delivery id
    as ``Idempotency-Key``; 429 → rate limited, 5xx → upstream error, other 4xx → final."""

    name = "Test webhook"

    def __init__(
        self, admin_url: str, *, notifier_id: str = "testhook:webhook", kind: str = "webhook"
    ) -> None:
        self.admin_url = admin_url
        self.id = notifier_id
        self.address_kind = kind
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def check_address(self, address: str) -> str:
        parts = urlsplit(address)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise InvalidInputError(
                f"{address!r} is not an http(s) URL with a host", field="address"
            )
        return address

    async def send(
        self, notification: Notification, recipient: Recipient, address: str | None
    ) -> None:
        url = address or self.admin_url
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10)
        response = await self._client.post(
            url,
            json={
                "event": notification.event_type,
                "title": notification.title,
                "body": notification.body,
                "user": recipient.username or recipient.role,
            },
            headers={"Idempotency-Key": notification.delivery_id or ""},
        )
        if response.status_code == 429:
            raise UpstreamRateLimitedError("slow down", source=self.id, retry_after=0.1)
        if response.status_code >= 500:
            raise UpstreamError(f"receiver answered {response.status_code}", source=self.id)
        if response.status_code >= 400:
            raise InvalidInputError(f"receiver refused: {response.status_code}")


class NotifierPlugin:
    def __init__(self, notifier: WebhookNotifier) -> None:
        self.notifier = notifier

    @hookimpl
    def register_notifiers(self) -> list[WebhookNotifier]:
        return [self.notifier]
