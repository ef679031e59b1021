"""Reading the audit log (permission ``view_audit``): newest first, filtered, paged."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_response

from medianest.core.db.models import AuditEvent
from medianest.core.web.api_support import IsoDateTime, PageQuery, page_by_id
from medianest.sdk.access import Permission, requires
from medianest.sdk.errors import InvalidInputError

blueprint = Blueprint("audit", __name__, url_prefix="/api/v1")


class AuditQuery(PageQuery):
    action: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="an action (user.role_changed), or a family ending in .* (user.*)",
    )
    actor: str | None = Field(
        default=None, min_length=1, max_length=200, description="who acted: a username or cli"
    )
    target: str | None = Field(
        default=None, min_length=1, max_length=200, description="what was acted on (user:12)"
    )
    outcome: Literal["success", "failure"] | None = None
    since: IsoDateTime | None = Field(
        default=None, description="at or after this time (before `until`, when both are given)"
    )
    until: IsoDateTime | None = Field(default=None, description="before this time")


class AuditEventView(BaseModel):
    id: int
    at: datetime
    action: str
    outcome: str
    actor: str | None
    actor_user_id: int | None
    target: str | None
    ip: str | None
    details: dict[str, Any]


class AuditEventList(BaseModel):
    items: list[AuditEventView]
    total: int = Field(description="events matching the filters, on every page")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


@blueprint.get("/audit")
@requires(Permission.VIEW_AUDIT)
@tag(["audit"])
@validate_querystring(AuditQuery)
@validate_response(AuditEventList)
async def list_events(query_args: AuditQuery) -> AuditEventList:
    """Admin actions and security events, newest first."""
    return await audit_events(query_args)


async def audit_events(query_args: AuditQuery) -> AuditEventList:
    """The page of audit events ``query_args`` asks for (the admin page shows the same).

    :raises InvalidInputError: ``since`` is not before ``until``.
    """
    if query_args.since and query_args.until and query_args.since >= query_args.until:
        raise InvalidInputError("since must be before until", field="since")
    query = AuditEvent.all()
    if query_args.action:
        if query_args.action.endswith(".*"):
            query = query.filter(action__startswith=query_args.action[:-1])
        else:
            query = query.filter(action=query_args.action)
    if query_args.actor:
        query = query.filter(actor=query_args.actor)
    if query_args.target:
        query = query.filter(target=query_args.target)
    if query_args.outcome:
        query = query.filter(outcome=query_args.outcome)
    if query_args.since:
        query = query.filter(at__gte=query_args.since)
    if query_args.until:
        query = query.filter(at__lt=query_args.until)
    rows, total, following = await page_by_id(query, query_args, newest_first=True)
    items = [AuditEventView.model_validate(row, from_attributes=True) for row in rows]
    return AuditEventList(items=items, total=total, next_cursor=following)
