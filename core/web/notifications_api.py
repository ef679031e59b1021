"""Notifications over HTTP: your inbox, your channels and preferences, the admins' side.

Signed in (a session; API keys cannot manage the account):

- ``GET /api/v1/notifications`` (newest first, keyset paged, ``unread=true`` to filter),
  ``GET .../unread-count``, ``POST .../{id}/read``, ``POST .../read-all``,
  ``DELETE .../{id}``. Every change is announced to your open pages (topic ``me``).
- ``GET /api/v1/notifications/channels`` (masked), ``PUT .../channels/{kind}`` with
  ``{"address"}``: checked by the notifier first ("test before save": 422 naming ``address``
  with its message, or ``kind`` when no notifier takes that kind), stored encrypted;
  ``DELETE .../channels/{kind}``.
- ``GET``/``PUT /api/v1/notifications/preferences``: muted event types, channels (per event
  type), quiet hours.
- ``POST /api/v1/notifications/test`` (``{"channel"?}``): a test sent to you now on each of
  your channels (or the one named), the outcome per channel.

Admins (``manage_settings``): ``GET``/``PUT /api/v1/notifications/defaults`` (the
preferences of everyone who chose none), ``GET /api/v1/notifications/dead-letters``,
``POST .../dead-letters/{id}/retry``, ``DELETE .../dead-letters/{id}``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import tag, validate_querystring, validate_request, validate_response

from medianest.core.auth import audit
from medianest.core.db.models import Notification as InboxRow
from medianest.core.db.models import NotificationChannel, NotificationDelivery
from medianest.core.notifications import channels as person_channels
from medianest.core.notifications import delivery, inbox, preferences
from medianest.core.notifications.preferences import KIND_PATTERN, Preferences
from medianest.core.web import context, problems
from medianest.core.web.api_support import PageQuery, caller, page_by_id
from medianest.core.web.path_ids import INT8_MAX
from medianest.sdk.access import Permission, requires, signed_in
from medianest.sdk.errors import InvalidInputError, NotFoundError
from medianest.sdk.models import Notification, Principal, Recipient
from medianest.sdk.web import PROBLEM_JSON, responds

blueprint = Blueprint("notifications", __name__, url_prefix="/api/v1")
INVALID_ADDRESS = "invalid_address"
TEST_EVENT = "notification.test"


class InboxQuery(PageQuery):
    unread: bool = Field(default=False, description="only unread notifications")


class NotificationView(BaseModel):
    id: int
    event_type: str
    title: str
    body: str
    link: str | None
    image: str | None
    data: dict[str, Any]
    count: int = Field(description="how many notifications were merged into this one")
    created_at: datetime
    updated_at: datetime
    read: bool

    @classmethod
    def of(cls, row: InboxRow) -> NotificationView:
        return cls.model_validate(inbox.view(row))


class NotificationList(BaseModel):
    items: list[NotificationView]
    total: int = Field(description="notifications matching the filter, on every page")
    unread: int = Field(description="your unread notifications")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


class UnreadCount(BaseModel):
    unread: int


class Changed(BaseModel):
    changed: int = Field(description="how many notifications changed")
    unread: int


class ChannelView(BaseModel):
    kind: str = Field(description="the address kind (apprise, webhook, email...)")
    address: str = Field(description="masked: enough to recognise it, never a secret")
    notifier: str | None = Field(description="the notifier delivering to it; null: none now")
    updated_at: datetime


class ChannelList(BaseModel):
    items: list[ChannelView]
    kinds: list[str] = Field(description="the address kinds the installed notifiers take")


class ChannelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=1, max_length=4000, description="the destination")


class TestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str | None = Field(
        default=None,
        pattern=KIND_PATTERN,
        description="one of your channels' kinds; omit for all of them",
    )


class TestOutcome(BaseModel):
    channel: str
    notifier: str
    ok: bool
    error: str | None = None


class TestResult(BaseModel):
    results: list[TestOutcome]


class DeadLetterView(BaseModel):
    id: int
    key: str = Field(description="the delivery id receivers saw (Idempotency-Key)")
    notifier: str
    user_id: int | None
    role: str | None
    event_type: str
    title: str
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: NotificationDelivery) -> DeadLetterView:
        return cls(
            id=row.id,
            key=row.key,
            notifier=row.notifier,
            user_id=row.user_id,
            role=row.role,
            event_type=row.event_type,
            title=str(row.payload.get("title", "")),
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class DeadLetterList(BaseModel):
    items: list[DeadLetterView]
    total: int
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


# inbox -------------------------------------------------------------------------------------


@blueprint.get("/notifications")
@signed_in
@tag(["notifications"])
@validate_querystring(InboxQuery)
@validate_response(NotificationList)
async def list_notifications(query_args: InboxQuery) -> NotificationList:
    """Your notifications, newest first (``unread=true``: only unread ones)."""
    user_id = caller().user_id
    query = InboxRow.filter(user_id=user_id)
    if query_args.unread:
        query = query.filter(read_at=None)
    rows, total, following = await page_by_id(query, query_args, newest_first=True)
    return NotificationList(
        items=[NotificationView.of(r) for r in rows],
        total=total,
        unread=await inbox.unread(user_id),
        next_cursor=following,
    )


@blueprint.get("/notifications/unread-count")
@signed_in
@tag(["notifications"])
@validate_response(UnreadCount)
async def unread_count() -> UnreadCount:
    """How many of your notifications are unread (the bell's number)."""
    return UnreadCount(unread=await inbox.unread(caller().user_id))


@blueprint.post(f"/notifications/<int(max={INT8_MAX}):notification_id>/read")
@signed_in
@tag(["notifications"])
@validate_response(NotificationView)
async def read_one(notification_id: int) -> NotificationView:
    """Mark one of your notifications read (again: harmless)."""
    user_id = caller().user_id
    row = await _own(user_id, notification_id)
    if await inbox.mark_read(user_id, row.id):
        await context.hub().notifications.announce_unread(user_id)
    await row.refresh_from_db()
    return NotificationView.of(row)


@blueprint.post("/notifications/read-all")
@signed_in
@tag(["notifications"])
@validate_response(Changed)
async def read_all() -> Changed:
    """Mark every one of your notifications read."""
    user_id = caller().user_id
    changed = await inbox.mark_read(user_id)
    if changed:
        await context.hub().notifications.announce_unread(user_id)
    return Changed(changed=changed, unread=await inbox.unread(user_id))


@blueprint.delete(f"/notifications/<int(max={INT8_MAX}):notification_id>")
@signed_in
@tag(["notifications"])
@responds(204, "Deleted")
async def delete_one(notification_id: int) -> tuple[str, int]:
    """Delete one of your notifications."""
    user_id = caller().user_id
    row = await _own(user_id, notification_id)
    await row.delete()
    await context.hub().notifications.announce_unread(user_id)
    return "", 204


async def _own(user_id: int, notification_id: int) -> InboxRow:
    row = await InboxRow.get_or_none(id=notification_id, user_id=user_id)
    if row is None:
        raise NotFoundError(f"you have no notification with id {notification_id}")
    return row


# channels ----------------------------------------------------------------------------------


def _notifiers() -> list[Any]:
    return context.hub().notifications.notifiers()


def _kinds() -> list[str]:
    return sorted({k for n in _notifiers() if (k := getattr(n, "address_kind", None))})


def _channel_view(row: NotificationChannel) -> ChannelView:
    found = [n.id for n in _notifiers() if getattr(n, "address_kind", None) == row.kind]
    return ChannelView(
        kind=row.kind,
        address=row.masked,
        notifier=found[0] if found else None,
        updated_at=row.updated_at,
    )


@blueprint.get("/notifications/channels")
@signed_in
@tag(["notifications"])
@validate_response(ChannelList)
async def list_channels() -> ChannelList:
    """Your destinations, masked, and the kinds you may add."""
    rows = await NotificationChannel.filter(user_id=caller().user_id).order_by("kind")
    return ChannelList(items=[_channel_view(r) for r in rows], kinds=_kinds())


@blueprint.put("/notifications/channels/<string(maxlength=100):kind>")
@signed_in
@tag(["notifications"])
@validate_request(ChannelBody)
@validate_response(ChannelView)
@responds(
    422,
    "The notifier refused the address (errors name address), or no notifier takes that kind",
    media_type=PROBLEM_JSON,
)
async def put_channel(kind: str, data: ChannelBody) -> Any:
    """Set your destination of one kind, checked by its notifier before it is stored."""
    principal = caller()
    try:
        address = await person_channels.check(_notifiers(), kind, data.address.strip())
    except InvalidInputError as exc:
        return _invalid(exc)
    row = await person_channels.save(context.hub().secrets, principal.user_id, kind, address)
    await audit.record(
        "notification.channel_set",
        actor=principal,
        target=f"user:{principal.user_id}",
        details={"kind": kind},
    )
    return _channel_view(row)


@blueprint.delete("/notifications/channels/<string(maxlength=100):kind>")
@signed_in
@tag(["notifications"])
@responds(204, "Deleted")
async def delete_channel(kind: str) -> tuple[str, int]:
    """Remove your destination of one kind."""
    user_id = caller().user_id
    deleted = await NotificationChannel.filter(user_id=user_id, kind=kind).delete()
    if not deleted:
        raise NotFoundError(f"you have no {kind!r} channel")
    return "", 204


def _invalid(error: InvalidInputError) -> Response:
    field = error.field or "address"
    return problems.problem(
        422,
        INVALID_ADDRESS,
        error.message,
        title="Destination refused",
        errors=[
            {
                "field": field,
                "message": error.message,
                "in": "body" if field == "address" else "path",
            }
        ],
    )


# preferences -------------------------------------------------------------------------------


@blueprint.get("/notifications/preferences")
@signed_in
@tag(["notifications"])
@validate_response(Preferences)
async def get_preferences() -> Preferences:
    """Your preferences (the admins' defaults while you chose none)."""
    own = await preferences.load(preferences.user_scope(caller().user_id))
    return own or await preferences.defaults()


@blueprint.put("/notifications/preferences")
@signed_in
@tag(["notifications"])
@validate_request(Preferences)
@validate_response(Preferences)
async def put_preferences(data: Preferences) -> Preferences:
    """Replace your preferences."""
    return await preferences.save(preferences.user_scope(caller().user_id), data)


@blueprint.get("/notifications/defaults")
@requires(Permission.MANAGE_SETTINGS)
@tag(["notifications"])
@validate_response(Preferences)
async def get_defaults() -> Preferences:
    """The preferences of everyone who chose none."""
    return await preferences.defaults()


@blueprint.put("/notifications/defaults")
@requires(Permission.MANAGE_SETTINGS)
@tag(["notifications"])
@validate_request(Preferences)
@validate_response(Preferences)
async def put_defaults(data: Preferences) -> Preferences:
    """Replace the defaults (audited)."""
    saved = await preferences.save(preferences.DEFAULTS_SCOPE, data)
    await audit.record(
        "notification.defaults_set",
        actor=caller(),
        target="notifications:defaults",
        details=data.model_dump(mode="json"),
    )
    return saved


# test --------------------------------------------------------------------------------------


@blueprint.post("/notifications/test")
@signed_in
@tag(["notifications"])
@validate_request(TestBody)
@validate_response(TestResult)
@responds(404, "You have no channel of the kind named", media_type=PROBLEM_JSON)
async def send_test(data: TestBody) -> TestResult:
    """Send yourself a test now on each of your channels (or the one named): the outcome of
    each, the notifier's error when it failed."""
    return TestResult(results=await send_test_to(caller(), data.channel))


async def send_test_to(principal: Principal, channel: str | None) -> list[TestOutcome]:
    """Send ``principal`` a test now on each of their channels (or ``channel``): how each
    went. The settings page's button does the same.

    :raises NotFoundError: they have no ``channel``.
    """
    hub = context.hub()
    own = (await person_channels.of_users(hub.secrets, [principal.user_id])).get(
        principal.user_id, {}
    )
    if channel is not None:
        if channel not in own:
            raise NotFoundError(f"you have no {channel!r} channel")
        own = {channel: own[channel]}
    recipient = Recipient(user_id=principal.user_id, username=principal.username, addresses=own)
    message = Notification(
        event_type=TEST_EVENT,
        title="Test notification from MediaNest",
        body="If you read this, this channel works.",
        recipients=(recipient,),
    )
    jobs = []
    for kind, address in sorted(own.items()):
        found = [n for n in _notifiers() if getattr(n, "address_kind", None) == kind]
        if found:
            jobs.append((kind, found[0], address))
    timeout = hub.settings.notifications.send_timeout_seconds
    outcomes = await asyncio.gather(
        *(
            asyncio.wait_for(
                n.send(
                    message.model_copy(update={"delivery_id": f"test:{uuid.uuid4().hex}"}),
                    recipient,
                    address,
                ),
                timeout,
            )
            for _, n, address in jobs
        ),
        return_exceptions=True,
    )
    results = []
    for (kind, notifier, _), outcome in zip(jobs, outcomes, strict=True):
        error = delivery.describe(outcome) if isinstance(outcome, BaseException) else None
        results.append(
            TestOutcome(channel=kind, notifier=notifier.id, ok=error is None, error=error)
        )
    return results


# dead letters ------------------------------------------------------------------------------


@blueprint.get("/notifications/dead-letters")
@requires(Permission.MANAGE_SETTINGS)
@tag(["notifications"])
@validate_querystring(PageQuery)
@validate_response(DeadLetterList)
async def list_dead_letters(query_args: PageQuery) -> DeadLetterList:
    """Deliveries that failed for good, newest first, with their last error."""
    rows, total, following = await page_by_id(
        NotificationDelivery.filter(status=delivery.DEAD), query_args, newest_first=True
    )
    return DeadLetterList(
        items=[DeadLetterView.of(r) for r in rows], total=total, next_cursor=following
    )


@blueprint.post(f"/notifications/dead-letters/<int(max={INT8_MAX}):delivery_id>/retry")
@requires(Permission.MANAGE_SETTINGS)
@tag(["notifications"])
@validate_response(DeadLetterView, 202)
async def retry_dead_letter(delivery_id: int) -> tuple[DeadLetterView, int]:
    """Queue a dead letter again, its tries counted afresh (202)."""
    row = await delivery.retry(context.hub().jobs, delivery_id)
    await audit.record(
        "notification.retried", actor=caller(), target=f"delivery:{delivery_id}", details={}
    )
    return DeadLetterView.of(row), 202


@blueprint.delete(f"/notifications/dead-letters/<int(max={INT8_MAX}):delivery_id>")
@requires(Permission.MANAGE_SETTINGS)
@tag(["notifications"])
@responds(204, "Discarded")
async def discard_dead_letter(delivery_id: int) -> tuple[str, int]:
    """Discard a dead letter for good."""
    await delivery.discard(delivery_id)
    await audit.record(
        "notification.discarded", actor=caller(), target=f"delivery:{delivery_id}", details={}
    )
    return "", 204
