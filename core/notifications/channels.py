"""Each person's destinations: one address per address kind, checked, encrypted at rest."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from medianest.core.db.models import NotificationChannel
from medianest.core.secrets import SecretBox
from medianest.sdk.errors import InvalidInputError


def mask(address: str) -> str:
    """What the pages show of an address: enough to recognise it, no secret."""
    text = address.strip()
    if text.startswith("{"):
        try:
            url = str(json.loads(text).get("url", ""))
        except (ValueError, AttributeError):
            url = ""
        return mask(url) if url else "{…}"
    if "@" in text and "://" not in text:
        name, _, domain = text.partition("@")
        return f"{name[:1]}…@{domain}"
    if "://" in text:
        parts = urlsplit(text)
        host = parts.hostname or ""
        return f"{parts.scheme}://{host}/…" if host else f"{parts.scheme}://…"
    return text[:3] + "…"


def notifier_for(notifiers: Iterable[Any], kind: str) -> Any:
    """The notifier delivering to addresses of ``kind``.

    :raises InvalidInputError: none does (field ``kind``), naming those that exist.
    """
    found = [n for n in notifiers if getattr(n, "address_kind", None) == kind]
    if not found:
        known = sorted({k for n in notifiers if (k := getattr(n, "address_kind", None))})
        raise InvalidInputError(
            f"no notifier delivers to {kind!r} addresses (known kinds: "
            f"{', '.join(known) or 'none: no notifier is installed'})",
            field="kind",
        )
    return found[0]


async def check(notifiers: Iterable[Any], kind: str, address: str) -> str:
    """``address`` as the notifier of ``kind`` normalises it ("test before save").

    :raises InvalidInputError: no notifier for ``kind``, or the notifier refuses the address
        (its message, field ``address`` unless it named another).
    """
    notifier = notifier_for(notifiers, kind)
    checker = getattr(notifier, "check_address", None)
    if checker is None:
        return address
    try:
        result = checker(address)
        checked = await result if inspect.isawaitable(result) else result
    except InvalidInputError as exc:
        raise InvalidInputError(exc.message, field=exc.field or "address") from exc
    return str(checked)


async def save(box: SecretBox, user_id: int, kind: str, address: str) -> NotificationChannel:
    now = datetime.now(UTC)
    row = await NotificationChannel.get_or_none(user_id=user_id, kind=kind)
    secret, masked = box.encrypt(address), mask(address)
    if row is None:
        return await NotificationChannel.create(
            user_id=user_id, kind=kind, address=secret, masked=masked, updated_at=now
        )
    row.address, row.masked, row.updated_at = secret, masked, now
    await row.save(update_fields=["address", "masked", "updated_at"])
    return row


async def of_users(box: SecretBox, user_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Each user's destinations, decrypted (address kind → address)."""
    found: dict[int, dict[str, str]] = {}
    wanted = sorted(set(user_ids))
    if not wanted:
        return found
    rows = await NotificationChannel.filter(user_id__in=wanted).values_list(
        "user_id", "kind", "address"
    )
    for user_id, kind, secret in rows:
        found.setdefault(int(user_id), {})[str(kind)] = box.decrypt(str(secret))
    return found
