"""The audit log: admin actions and security events, queryable by admins."""

from __future__ import annotations

from typing import Any, Literal

import structlog
from quart import g, has_request_context, request

from medianest.core.db.models import AuditEvent
from medianest.sdk.models import Principal

log = structlog.get_logger(__name__)


async def record(
    action: str,
    *,
    actor: Principal | None = None,
    actor_label: str | None = None,
    target: str | None = None,
    outcome: Literal["success", "failure"] = "success",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Store one audit event; the caller's IP comes from the current request, if any.

    ``action`` is dotted (``session.revoked``, ``user.role_changed``, ``sign_in.failed``).
    ``details`` must hold no secrets.
    """
    ip = None
    if has_request_context():
        ip = g.get("client_ip") or request.remote_addr
    event = await AuditEvent.create(
        action=action,
        outcome=outcome,
        actor_user_id=actor.user_id if actor else None,
        actor=actor.username if actor else actor_label,
        target=target,
        ip=ip,
        details=details or {},
    )
    log.info("audit", action=action, outcome=outcome, actor=event.actor, target=target)
    return event
