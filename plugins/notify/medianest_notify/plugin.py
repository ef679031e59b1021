"""The notify plugin's hook implementations (entry point ``notify = "medianest_notify.plugin"``).

Three notifiers, built only on the SDK: ``notify:apprise`` (any Apprise URL), ``notify:webhook``
(signed JSON POSTs from a template) and ``notify:email`` (SMTP; registered once a mail server is
configured). Each checks an address before core stores it (``check_address``) and raises SDK
errors that say whether a failed delivery is worth another try. Admins can switch each off
without a restart with the runtime flags ``notify.apprise``, ``notify.webhook`` and
``notify.email`` (deliveries then fail for good, with that reason, instead of being sent).
"""

from __future__ import annotations

import asyncio
import logging

from medianest.sdk import Flag, HealthStatus, HubContext, NotFoundError, Notifier, hookimpl
from medianest_notify.apprise_notifier import AppriseNotifier
from medianest_notify.const import EMAIL_ID, FLAG_APPRISE, FLAG_EMAIL, FLAG_WEBHOOK
from medianest_notify.email_notifier import EmailNotifier
from medianest_notify.settings import NotifySettings, shown
from medianest_notify.webhook_notifier import WebhookNotifier

log = logging.getLogger(__name__)

MEDIANEST_SDK = ">=1.0,<2"
"""The SDK versions this plugin is written for; core refuses to load it under any other."""

STARTUP_CHECK_SECONDS = 5.0
"""At most this long is spent at startup checking that the mail server answers."""


def build_notifiers(
    settings: NotifySettings, hub: HubContext | None = None
) -> list[AppriseNotifier | WebhookNotifier | EmailNotifier]:
    """The notifiers for ``settings`` (no I/O happens here; the webhook one holds a connection
    pool that ``aclose`` releases)."""
    notifiers: list[AppriseNotifier | WebhookNotifier | EmailNotifier] = [
        AppriseNotifier(
            settings.apprise, hub, allow_private=settings.webhook.allow_private_destinations
        ),
        WebhookNotifier(settings.webhook, hub),
    ]
    if settings.email.enabled:
        notifiers.append(EmailNotifier(settings.email, hub))
    return notifiers


@hookimpl
def register_settings() -> type[NotifySettings]:
    """The ``[plugins.notify]`` settings model."""
    return NotifySettings


@hookimpl
def register_notifiers(settings: NotifySettings | None, hub: HubContext) -> list[Notifier]:
    """Apprise and webhooks always; email once ``email.host`` is set."""
    settings = settings or NotifySettings()
    if not settings.email.enabled:
        log.info("email notifications are off: no mail server (plugins.notify.email.host)")
    log.info("notifiers configured: %s", shown(settings))
    return list(build_notifiers(settings, hub))


@hookimpl
def register_flags() -> list[Flag]:
    """One flag per notifier, to switch its deliveries off without a restart."""
    return [
        Flag(key=FLAG_APPRISE, description="Deliver notifications through Apprise URLs"),
        Flag(key=FLAG_WEBHOOK, description="Deliver notifications to webhooks"),
        Flag(key=FLAG_EMAIL, description="Deliver notifications by email"),
    ]


@hookimpl
async def startup(hub: HubContext) -> None:
    """Check the mail server answers (and takes the credentials); log what is wrong, without
    stopping the hub: deliveries are retried while it is away."""
    try:
        notifier = hub.provider(EMAIL_ID)
    except NotFoundError:
        return
    if not isinstance(notifier, EmailNotifier):
        return
    try:
        status = await asyncio.wait_for(notifier.health(), STARTUP_CHECK_SECONDS)
    except TimeoutError:
        status = HealthStatus(
            ok=False, detail=f"the mail server {notifier.server} did not answer in time"
        )
    if not status.ok:
        log.warning("email notifications will be retried until this is fixed: %s", status.detail)
    else:
        log.info("the mail server %s answers", notifier.server)
