"""Each person's inbox: every notification kept, grouped, counted and announced live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import F

from medianest.core.db.models import Notification
from medianest.core.notifications.rules import Draft


def view(row: Notification) -> dict[str, Any]:
    """A notification as the API and the live frame show it."""
    return {
        "id": row.id,
        "event_type": row.event_type,
        "title": row.title,
        "body": row.body,
        "link": row.link,
        "image": row.image,
        "data": row.data,
        "count": row.count,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "read": row.read_at is not None,
    }


async def store(user_id: int, draft: Draft, *, window_seconds: float) -> tuple[Notification, bool]:
    """Keep ``draft`` for ``user_id``: the row, and whether it was merged into an unread one
    of the same ``group_key`` from the last ``window_seconds``."""
    now = datetime.now(UTC)
    if draft.group_key and window_seconds > 0:
        existing = (
            await Notification.filter(
                user_id=user_id,
                group_key=draft.group_key,
                read_at=None,
                created_at__gte=now - timedelta(seconds=window_seconds),
            )
            .order_by("-id")
            .first()
        )
        if existing is not None:
            await Notification.filter(id=existing.id).update(count=F("count") + 1, updated_at=now)
            await existing.refresh_from_db(fields=["count"])
            existing.title = draft.title_for(existing.count)
            existing.updated_at = now
            await existing.save(update_fields=["title", "updated_at"])
            return existing, True
    row = await Notification.create(
        user_id=user_id,
        event_type=draft.event_type,
        title=draft.title[:300],
        body=draft.body[:5000],
        link=draft.link,
        image=draft.image,
        data=draft.data,
        group_key=draft.group_key,
        count=1,
        created_at=now,
        updated_at=now,
    )
    return row, False


async def unread(user_id: int) -> int:
    return await Notification.filter(user_id=user_id, read_at=None).count()


async def mark_read(user_id: int, notification_id: int | None = None) -> int:
    """Mark one (or every) unread notification of ``user_id`` read; how many changed."""
    query = Notification.filter(user_id=user_id, read_at=None)
    if notification_id is not None:
        query = query.filter(id=notification_id)
    return await query.update(read_at=datetime.now(UTC))
