"""Switching runtime flags (permission ``manage_settings``); every replica follows at once.

``GET /api/v1/flags`` (in :mod:`medianest.core.web.system`) lists them; this module changes
them. Each change is recorded in the audit log with the value before and after.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictBool
from quart import Blueprint
from quart_schema import tag, validate_request, validate_response

from medianest.core.auth import audit
from medianest.core.flags import FlagService
from medianest.core.web import context
from medianest.core.web.api_support import caller
from medianest.core.web.schemas import FlagView
from medianest.sdk.access import Permission, requires
from medianest.sdk.models import Principal

blueprint = Blueprint("flags_admin", __name__, url_prefix="/api/v1")


class FlagChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool


@blueprint.put("/flags/<key>")
@requires(Permission.MANAGE_SETTINGS)
@tag(["system"])
@validate_request(FlagChange)
@validate_response(FlagView)
async def set_flag(key: str, data: FlagChange) -> FlagView:
    """Switch a runtime flag on or off for every replica (404 lists the known flags)."""
    return await switch_flag(caller(), key, data.enabled)


async def switch_flag(principal: Principal, key: str, enabled: bool) -> FlagView:
    """``principal`` switches flag ``key`` for every replica, audited (the admin page's
    toggle does the same).

    :raises NotFoundError: no such flag (naming the known ones).
    """
    flags: FlagService = context.hub().flag_service
    before = flags.is_enabled(key)
    await flags.set(key, enabled, by=principal.username)
    await audit.record(
        "flag.set",
        actor=principal,
        target=f"flag:{key}",
        details={"before": before, "after": enabled},
    )
    state = next(s for s in flags.list() if s.key == key)
    return FlagView.model_validate(state, from_attributes=True)
