"""Who a notification reaches: recipients resolved to the addresses notifiers deliver to.

A plugin (or core) names recipients by user id or role (:class:`~medianest.sdk.Recipient`);
before the notification is queued, core fills each user's username and addresses (their
email under ``email``, each linked identity under its provider key) from the database and
drops users that do not exist or are deactivated. A person's own destinations (an Apprise
URL, a webhook, an email override; see :mod:`.channels`) are added under their address kind.
Roles stay roles: each notifier delivers them to its own shared channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from medianest.core.auth.linked import addresses_of
from medianest.sdk.models import Recipient

log = structlog.get_logger(__name__)


async def resolve_recipients(
    recipients: Sequence[Recipient],
    channels: Mapping[int, Mapping[str, str]] | None = None,
) -> tuple[Recipient, ...]:
    """``recipients`` with every user's username and addresses filled in, in order, without
    duplicates; unknown or deactivated users are left out (and logged).

    :param channels: each user's own destinations (address kind → address, decrypted): they
        come before the addresses core knows (a person's email override wins).
    """
    known = await addresses_of(r.user_id for r in recipients if r.user_id is not None)
    own = channels or {}
    resolved: list[Recipient] = []
    seen: set[tuple[str, object]] = set()
    for recipient in recipients:
        key: tuple[str, object] = (
            ("user", recipient.user_id)
            if recipient.user_id is not None
            else ("role", recipient.role)
        )
        if key in seen:
            continue
        seen.add(key)
        if recipient.user_id is None:
            resolved.append(recipient)
            continue
        if recipient.user_id not in known:
            log.warning(
                "notification recipient skipped: no such active user", user_id=recipient.user_id
            )
            continue
        username, addresses = known[recipient.user_id]
        resolved.append(
            recipient.model_copy(
                update={
                    "username": username,
                    "addresses": {
                        **addresses,
                        **own.get(recipient.user_id, {}),
                        **recipient.addresses,
                    },
                }
            )
        )
    return tuple(resolved)
