"""The notification pages: your inbox, your notification settings, and the admins' side.

- ``/notifications``: your inbox, newest first (``?unread=1``: unread only), a page of
  :data:`SHOWN`; mark one or all read, delete one.
- ``/account/notifications``: your channels (masked; a new address is checked by its notifier
  before it is kept), the event types you hear of, the channels for them, quiet hours, and a
  button sending a test on each channel.
- ``/admin/notifications`` (``manage_settings``): the defaults for everyone who chose none,
  the notifiers installed, and the dead letters with retry and discard.

Each calls the same functions as ``/api/v1/notifications``; forms post here with the CSRF token
and come back to the page (post, redirect, get).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from quart import Response, redirect, request, url_for
from quart.typing import ResponseTypes

from medianest.core.db.models import Notification as InboxRow
from medianest.core.db.models import NotificationChannel, NotificationDelivery
from medianest.core.notifications import channels as person_channels
from medianest.core.notifications import delivery, inbox, preferences
from medianest.core.notifications.preferences import Preferences
from medianest.core.web import context
from medianest.core.web.api_support import PageQuery, page_by_id
from medianest.core.web.notifications_api import send_test_to
from medianest.core.web.pages import i18n
from medianest.core.web.pages.admin import _sections
from medianest.core.web.pages.shell import page_blueprint, render_page
from medianest.sdk.access import Permission, requires, signed_in
from medianest.sdk.errors import InvalidInputError, NotFoundError
from medianest.sdk.models import Principal
from medianest.sdk.web import current_principal

notification_pages = page_blueprint("notification_pages", __name__, template_folder="../templates")
SHOWN = 50


def _me() -> Principal:
    principal = current_principal()
    assert principal is not None  # every route here is signed_in or needs a permission
    return principal


# inbox -------------------------------------------------------------------------------------


@notification_pages.get("/notifications")
@signed_in
async def inbox_page() -> Response:
    """Your notifications, newest first."""
    user_id = _me().user_id
    unread_only = request.args.get("unread") == "1"
    cursor = request.args.get("cursor") or None
    try:
        page = PageQuery(limit=SHOWN, cursor=cursor)
    except ValidationError as exc:
        raise InvalidInputError("the cursor is not valid", field="cursor") from exc
    query = InboxRow.filter(user_id=user_id)
    if unread_only:
        query = query.filter(read_at=None)
    rows, total, following = await page_by_id(query, page, newest_first=True)
    return await render_page(
        "notifications/inbox.html",
        title=i18n.gettext("Notifications"),
        notes=rows,
        total=total,
        unread_only=unread_only,
        next_cursor=following,
    )


@notification_pages.post("/notifications/<int:notification_id>/read")
@signed_in
async def read_one(notification_id: int) -> ResponseTypes:
    """Mark one notification read."""
    user_id = _me().user_id
    await _own(user_id, notification_id)
    if await inbox.mark_read(user_id, notification_id):
        await context.hub().notifications.announce_unread(user_id)
    return redirect(url_for("notification_pages.inbox_page"), 303)


@notification_pages.post("/notifications/read-all")
@signed_in
async def read_all() -> ResponseTypes:
    """Mark every notification read."""
    user_id = _me().user_id
    if await inbox.mark_read(user_id):
        await context.hub().notifications.announce_unread(user_id)
    return redirect(url_for("notification_pages.inbox_page"), 303)


@notification_pages.post("/notifications/<int:notification_id>/delete")
@signed_in
async def delete_one(notification_id: int) -> ResponseTypes:
    """Delete one notification."""
    user_id = _me().user_id
    row = await _own(user_id, notification_id)
    await row.delete()
    await context.hub().notifications.announce_unread(user_id)
    return redirect(url_for("notification_pages.inbox_page"), 303)


async def _own(user_id: int, notification_id: int) -> InboxRow:
    row = await InboxRow.get_or_none(id=notification_id, user_id=user_id)
    if row is None:
        raise NotFoundError(f"you have no notification with id {notification_id}")
    return row


# your settings -----------------------------------------------------------------------------


async def _settings_page(
    *, error: str | None = None, results: Any = None, status: int = 200
) -> Response:
    user_id = _me().user_id
    hub = context.hub()
    rows = await NotificationChannel.filter(user_id=user_id).order_by("kind")
    kinds = sorted(
        {k for n in hub.notifications.notifiers() if (k := getattr(n, "address_kind", None))}
    )
    own = await preferences.load(preferences.user_scope(user_id))
    chosen = own or await preferences.defaults()
    return await render_page(
        "notifications/settings.html",
        title=i18n.gettext("Notification settings"),
        channels=rows,
        kinds=kinds,
        prefs=chosen,
        error=error,
        results=results,
        status=status,
        etag=status == 200 and results is None,
    )


@notification_pages.get("/account/notifications")
@signed_in
async def settings() -> Response:
    """Your channels, what you hear of, quiet hours, and a test button."""
    return await _settings_page()


@notification_pages.post("/account/notifications/channels")
@signed_in
async def save_channel() -> Response | ResponseTypes:
    """Keep a channel once its notifier accepted the address."""
    form = await request.form
    kind, address = form.get("kind", "").strip(), form.get("address", "").strip()
    hub = context.hub()
    try:
        if not address:
            raise InvalidInputError("the address must not be blank", field="address")
        checked = await person_channels.check(hub.notifications.notifiers(), kind, address)
    except InvalidInputError as exc:
        return await _settings_page(error=f"{exc.field or 'address'}: {exc.message}", status=422)
    await person_channels.save(hub.secrets, _me().user_id, kind, checked)
    return redirect(url_for("notification_pages.settings"), 303)


@notification_pages.post("/account/notifications/channels/<kind>/delete")
@signed_in
async def delete_channel(kind: str) -> ResponseTypes:
    """Remove a channel."""
    await NotificationChannel.filter(user_id=_me().user_id, kind=kind).delete()
    return redirect(url_for("notification_pages.settings"), 303)


@notification_pages.post("/account/notifications/preferences")
@signed_in
async def save_preferences() -> Response | ResponseTypes:
    """Keep what the form says you want to hear of, where and when not."""
    chosen, error = await _preferences_from_form()
    if chosen is None:
        return await _settings_page(error=error, status=422)
    await preferences.save(preferences.user_scope(_me().user_id), chosen)
    return redirect(url_for("notification_pages.settings"), 303)


@notification_pages.post("/account/notifications/test")
@signed_in
async def send_test() -> Response:
    """Send a test on each of your channels and show how each went."""
    results = await send_test_to(_me(), None)
    return await _settings_page(results=results)


async def _preferences_from_form() -> tuple[Preferences | None, str]:
    form = await request.form
    muted = [t.strip() for t in form.get("muted", "").replace(",", " ").split() if t.strip()]
    data: dict[str, Any] = {"muted": muted}
    if form.get("all_channels") != "on":
        data["channels"] = form.getlist("channels")
    if form.get("quiet_start") and form.get("quiet_end"):
        data["quiet_hours"] = {
            "start": form.get("quiet_start"),
            "end": form.get("quiet_end"),
            "timezone": form.get("timezone") or "UTC",
        }
    try:
        return Preferences.model_validate(data), ""
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        return None, f"{field}: {problem['msg']}"


# admins ------------------------------------------------------------------------------------


@notification_pages.get("/admin/notifications")
@requires(Permission.MANAGE_SETTINGS)
async def admin() -> Response:
    """Defaults, notifiers and dead letters."""
    return await _admin_page()


async def _admin_page(*, error: str | None = None, status: int = 200) -> Response:
    hub = context.hub()
    letters, total, _ = await page_by_id(
        NotificationDelivery.filter(status=delivery.DEAD),
        PageQuery(limit=SHOWN),
        newest_first=True,
    )
    kinds = sorted(
        {k for n in hub.notifications.notifiers() if (k := getattr(n, "address_kind", None))}
    )
    return await render_page(
        "notifications/admin.html",
        title=i18n.gettext("Notifications"),
        sections=_sections(_me()),
        notifiers=hub.notifications.notifiers(),
        kinds=kinds,
        prefs=await preferences.defaults(),
        letters=letters,
        total=total,
        error=error,
        status=status,
    )


@notification_pages.post("/admin/notifications/defaults")
@requires(Permission.MANAGE_SETTINGS)
async def save_defaults() -> Response | ResponseTypes:
    """Keep the defaults the form gives."""
    chosen, error = await _preferences_from_form()
    if chosen is None:
        return await _admin_page(error=error, status=422)
    await preferences.save(preferences.DEFAULTS_SCOPE, chosen)
    return redirect(url_for("notification_pages.admin"), 303)


@notification_pages.post("/admin/notifications/dead-letters/<int:delivery_id>/retry")
@requires(Permission.MANAGE_SETTINGS)
async def retry_letter(delivery_id: int) -> ResponseTypes:
    """Queue a dead letter again."""
    await delivery.retry(context.hub().jobs, delivery_id)
    return redirect(url_for("notification_pages.admin"), 303)


@notification_pages.post("/admin/notifications/dead-letters/<int:delivery_id>/discard")
@requires(Permission.MANAGE_SETTINGS)
async def discard_letter(delivery_id: int) -> ResponseTypes:
    """Discard a dead letter."""
    await delivery.discard(delivery_id)
    return redirect(url_for("notification_pages.admin"), 303)
