"""Overseerr's webhook notification agent (``server/lib/notifications/agents/webhook.ts``).

Settings are the real ones (``enabled``, ``types`` bitmask, ``options.webhookUrl``,
``options.jsonPayload`` — base64 of a JSON *string* holding the template — and
``options.authHeader``, sent as ``Authorization``). The default template is Overseerr's own.
Rendering follows the agent: ``{{media}}``/``{{request}}`` keys become ``media``/``request``
(``null`` when the notification has none), ``{{extra}}`` becomes the ``extra`` list, and each
``{{variable}}`` inside a string is replaced once by its value as text.

Deliveries go through one background queue per event loop, so the API never waits for them
and they arrive in the order the changes happened; each outcome is kept in
:attr:`Notifier.deliveries` and failures are logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any

import httpx

logger = logging.getLogger("medianest_overseerr.simulator.webhooks")
MAX_DELIVERIES = 10_000
"""Deliveries remembered (the oldest are forgotten first)."""


class Notification(IntFlag):
    """Notification types (``server/lib/notifications/index.ts``)."""

    NONE = 0
    MEDIA_PENDING = 2
    MEDIA_APPROVED = 4
    MEDIA_AVAILABLE = 8
    MEDIA_FAILED = 16
    TEST_NOTIFICATION = 32
    MEDIA_DECLINED = 64
    MEDIA_AUTO_APPROVED = 128
    ISSUE_CREATED = 256
    ISSUE_COMMENT = 512
    ISSUE_RESOLVED = 1024
    ISSUE_REOPENED = 2048
    MEDIA_AUTO_REQUESTED = 4096
    MEDIA_PENDING_UPDATED = 8192


DEFAULT_TEMPLATE: dict[str, Any] = {
    "notification_type": "{{notification_type}}",
    "event": "{{event}}",
    "subject": "{{subject}}",
    "message": "{{message}}",
    "image": "{{image}}",
    "{{media}}": {
        "media_type": "{{media_type}}",
        "tmdbId": "{{media_tmdbid}}",
        "tvdbId": "{{media_tvdbid}}",
        "status": "{{media_status}}",
        "status4k": "{{media_status4k}}",
    },
    "{{request}}": {
        "request_id": "{{request_id}}",
        "requestedBy_email": "{{requestedBy_email}}",
        "requestedBy_username": "{{requestedBy_username}}",
        "requestedBy_avatar": "{{requestedBy_avatar}}",
    },
    "{{issue}}": {
        "issue_id": "{{issue_id}}",
        "issue_type": "{{issue_type}}",
        "issue_status": "{{issue_status}}",
        "reportedBy_email": "{{reportedBy_email}}",
        "reportedBy_username": "{{reportedBy_username}}",
        "reportedBy_avatar": "{{reportedBy_avatar}}",
    },
    "{{comment}}": {
        "comment_message": "{{comment_message}}",
        "commentedBy_email": "{{commentedBy_email}}",
        "commentedBy_username": "{{commentedBy_username}}",
        "commentedBy_avatar": "{{commentedBy_avatar}}",
    },
    "{{extra}}": [],
}


def encode_template(template: dict[str, Any] | str) -> str:
    """``jsonPayload`` as Overseerr stores it: base64 of the template as a JSON string."""
    text = template if isinstance(template, str) else json.dumps(template, indent=4)
    return base64.b64encode(json.dumps(text).encode("utf-8")).decode("ascii")


def decode_template(json_payload: str) -> dict[str, Any]:
    """The template inside ``jsonPayload``; ``ValueError`` when it is not one."""
    try:
        text = base64.b64decode(json_payload.encode("ascii"), validate=True).decode("utf-8")
        inner = json.loads(text)
        template = json.loads(inner) if isinstance(inner, str) else inner
    except (ValueError, UnicodeError) as exc:
        raise ValueError(f"jsonPayload is not base64 of a JSON template: {exc}") from None
    if not isinstance(template, dict):
        raise ValueError("jsonPayload must hold a JSON object")
    return template


DEFAULT_JSON_PAYLOAD = encode_template(DEFAULT_TEMPLATE)

_MEDIA_STATUS = {
    1: "UNKNOWN",
    2: "PENDING",
    3: "PROCESSING",
    4: "PARTIALLY_AVAILABLE",
    5: "AVAILABLE",
}


def _get(payload: dict[str, Any], dotted: str) -> Any:
    node: Any = payload
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


_KEYMAP: dict[str, str] = {
    "event": "event",
    "subject": "subject",
    "message": "message",
    "image": "image",
    "notifyuser_username": "notifyUser.displayName",
    "notifyuser_email": "notifyUser.email",
    "notifyuser_avatar": "notifyUser.avatar",
    "notifyuser_settings_discordId": "notifyUser.settings.discordId",
    "notifyuser_settings_telegramChatId": "notifyUser.settings.telegramChatId",
    "media_tmdbid": "media.tmdbId",
    "media_imdbid": "media.imdbId",
    "media_tvdbid": "media.tvdbId",
    "media_type": "media.mediaType",
    "request_id": "request.id",
    "requestedBy_username": "request.requestedBy.displayName",
    "requestedBy_email": "request.requestedBy.email",
    "requestedBy_avatar": "request.requestedBy.avatar",
    "requestedBy_settings_discordId": "request.requestedBy.settings.discordId",
    "requestedBy_settings_telegramChatId": "request.requestedBy.settings.telegramChatId",
}


def _variables(kind: Notification, payload: dict[str, Any]) -> dict[str, str]:
    out = {"notification_type": kind.name or ""}
    for name, path in _KEYMAP.items():
        value = _get(payload, path)
        out[name] = "" if value is None else str(value)
    media = payload.get("media") or {}
    out["media_status"] = _MEDIA_STATUS.get(int(media.get("status") or 0), "")
    out["media_status4k"] = _MEDIA_STATUS.get(int(media.get("status4k") or 0), "")
    return out


def render(template: dict[str, Any], kind: Notification, payload: dict[str, Any]) -> Any:
    """The body the agent posts for ``kind`` with ``payload`` (see the module docstring)."""
    variables = _variables(kind, payload)

    def walk(node: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "{{extra}}":
                out["extra"] = payload.get("extra") or []
                continue
            if key in ("{{media}}", "{{request}}", "{{issue}}", "{{comment}}"):
                name = key[2:-2]
                key, value = name, value if payload.get(name) else None
            if isinstance(value, str):
                for var, text in variables.items():
                    value = value.replace("{{" + var + "}}", text, 1)
                out[key] = value
            elif isinstance(value, dict):
                out[key] = walk(value)
            else:
                out[key] = value
        return out

    return walk(template)


@dataclass
class WebhookSettings:
    """``settings.notifications.agents.webhook``."""

    enabled: bool = False
    types: int = 0
    webhook_url: str = ""
    json_payload: str = DEFAULT_JSON_PAYLOAD
    auth_header: str = ""

    def to_json(self) -> dict[str, Any]:
        """The shape ``GET /settings/notifications/webhook`` answers."""
        options: dict[str, Any] = {
            "webhookUrl": self.webhook_url,
            "jsonPayload": self.json_payload,
            "authHeader": self.auth_header,
        }
        return {"enabled": self.enabled, "types": self.types, "options": options}

    def update(self, body: dict[str, Any]) -> None:
        """Apply a ``POST /settings/notifications/webhook`` body (validated by the spec)."""
        options = body.get("options") or {}
        if "jsonPayload" in options:
            decode_template(str(options["jsonPayload"]))
        self.enabled = bool(body.get("enabled", self.enabled))
        self.types = int(body.get("types", self.types) or 0)
        self.webhook_url = str(options.get("webhookUrl", self.webhook_url) or "")
        self.json_payload = str(options.get("jsonPayload", self.json_payload) or "")
        self.auth_header = str(options.get("authHeader", "") or "")

    def wants(self, kind: Notification) -> bool:
        """The agent's ``shouldSend``: enabled, a URL, and the type among ``types`` (the
        test notification always passes)."""
        if not self.enabled or not self.webhook_url:
            return False
        return bool((self.types | Notification.TEST_NOTIFICATION) & kind)


@dataclass
class Delivery:
    """One webhook POST and how it went."""

    kind: str
    url: str
    body: Any
    authorization: str | None
    at: float
    status: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON description for the control API."""
        return {
            "type": self.kind,
            "url": self.url,
            "body": self.body,
            "authorization": self.authorization,
            "at": self.at,
            "status": self.status,
            "error": self.error,
        }


@dataclass
class Notifier:
    """Sends notifications in the background, in order, and remembers each outcome."""

    settings: WebhookSettings = field(default_factory=WebhookSettings)
    timeout: float = 5.0
    deliveries: list[Delivery] = field(default_factory=list)
    _queue: asyncio.Queue[Delivery | None] | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _worker: asyncio.Task[None] | None = None

    def send(
        self,
        kind: Notification,
        payload: dict[str, Any],
        settings: WebhookSettings | None = None,
    ) -> Delivery | None:
        """Queue the notification if the settings want it; returns its delivery record."""
        use = settings or self.settings
        if not use.wants(kind):
            return None
        try:
            template = decode_template(use.json_payload)
        except ValueError as exc:
            logger.warning("webhook not sent: %s", exc)
            return None
        delivery = Delivery(
            kind=kind.name or "",
            url=use.webhook_url,
            body=render(template, kind, payload),
            authorization=use.auth_header or None,
            at=time.time(),
        )
        self.deliveries.append(delivery)
        if len(self.deliveries) > MAX_DELIVERIES:
            del self.deliveries[: len(self.deliveries) - MAX_DELIVERIES]
        self._enqueue(delivery)
        return delivery

    def _enqueue(self, delivery: Delivery) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            delivery.error = "not sent: no running event loop"
            return
        if (
            self._queue is None
            or self._loop is not loop
            or self._worker is None
            or self._worker.done()
        ):
            self._queue = asyncio.Queue()
            self._loop = loop
            self._worker = loop.create_task(self._run(self._queue), name="overseerr-webhooks")
        self._queue.put_nowait(delivery)

    async def _run(self, queue: asyncio.Queue[Delivery | None]) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            while True:
                delivery = await queue.get()
                try:
                    if delivery is None:
                        return
                    await self._post(client, delivery)
                finally:
                    queue.task_done()

    async def _post(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "axios/0.21.4"}
        if delivery.authorization:
            headers["Authorization"] = delivery.authorization
        try:
            response = await client.post(
                delivery.url, content=json.dumps(delivery.body).encode(), headers=headers
            )
            delivery.status = response.status_code
            if response.status_code >= 400:
                delivery.error = f"HTTP {response.status_code}"
                logger.warning(
                    "webhook %s to %s answered %s",
                    delivery.kind,
                    delivery.url,
                    response.status_code,
                )
        except httpx.HTTPError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
            logger.warning("webhook %s to %s failed: %s", delivery.kind, delivery.url, exc)

    async def drain(self, within: float = 10.0) -> None:
        """Wait until every queued notification has been sent (or failed)."""
        if self._queue is not None and self._loop is asyncio.get_running_loop():
            await asyncio.wait_for(self._queue.join(), within)

    async def close(self) -> None:
        """Send what is queued, then stop the worker."""
        if self._queue is None or self._worker is None:
            return
        if self._loop is asyncio.get_running_loop() and not self._worker.done():
            self._queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._worker), 5)
        if not self._worker.done():
            self._worker.cancel()
        self._queue = None
        self._worker = None
        self._loop = None
