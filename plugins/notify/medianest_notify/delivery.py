"""What every notifier needs about one delivery: its stable id and who it is for.

Core retries a delivery that failed with an upstream error, possibly in another worker; the
delivery id stays the same across those tries, so a receiver can drop a duplicate (webhooks send
it as ``Idempotency-Key``, email as the ``Message-ID``). When core hands over a delivery id of
its own (an attribute ``delivery_id`` of the notification, or the ``delivery_id`` argument of
``send``), that one is used; otherwise it is derived from the notification's content, the
notifier, the recipient and the address, which are the same on every try.
"""

from __future__ import annotations

import hashlib
from typing import Any

from medianest.sdk import Notification, Recipient


def delivery_id_of(
    notification: Notification,
    notifier_id: str,
    recipient: Recipient,
    address: str | None,
    explicit: str | None = None,
) -> str:
    """The delivery's id: ``explicit`` or core's, else a digest of what defines the delivery."""
    if explicit:
        return explicit
    carried: Any = getattr(notification, "delivery_id", None)
    if isinstance(carried, str) and carried:
        return carried
    digest = hashlib.sha256()
    for part in (
        notifier_id,
        notification.model_dump_json(exclude={"recipients"}),
        recipient.model_dump_json(),
        address or "",
    ):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def who(recipient: Recipient) -> str:
    """How messages name the recipient: their username, user id, or the role's channel."""
    if recipient.user_id is None:
        return f"the {recipient.role} channel"
    return recipient.username or f"user {recipient.user_id}"


def plain_text(notification: Notification) -> str:
    """The notification as plain text: its body and the link to read more."""
    parts = [notification.body.strip()] if notification.body.strip() else []
    if notification.link:
        parts.append(notification.link)
    return "\n\n".join(parts) or notification.title
