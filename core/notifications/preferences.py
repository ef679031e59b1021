"""What each person wants to hear of, on which channels, and when not.

A person's preferences replace the admins' defaults as a whole once they saved them. An
event type is matched exactly or by a prefix ending in ``.*`` (``request.*``).

Quiet hours hold off-site deliveries back until they end (in the person's time zone); the
inbox always gets the notification at once, so nothing is lost or late in the hub itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from medianest.core.db.models import NotificationPreference

DEFAULTS_SCOPE = "defaults"
EVENT_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$|^\*$"
KIND_PATTERN = r"^[a-z0-9_.:-]{1,100}$"
ZONES = sorted(available_timezones())
_ZONE_SET = frozenset(ZONES)

EventTypePattern = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=EVENT_PATTERN,
        description="an event type (request.available) or a prefix (request.*)",
    ),
]
AddressKind = Annotated[
    str, Field(pattern=KIND_PATTERN, description="an address kind (apprise, webhook, email...)")
]


class QuietHours(BaseModel):
    """From ``start`` to ``end`` (local time in ``timezone``; over midnight when ``end`` is
    earlier) nothing is sent off-site."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = Field(description="local time quiet hours begin, e.g. 22:00")
    end: time = Field(description="local time they end, e.g. 07:00")
    timezone: str = Field(
        default="UTC",
        max_length=64,
        description="an IANA time zone (Europe/Paris)",
        json_schema_extra={"enum": list[JsonValue](ZONES)},
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _ZONE_SET:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name: Europe/Paris)")
        return value

    def held_until(self, now: datetime) -> datetime | None:
        """When quiet hours end if ``now`` is inside them (UTC), else ``None``."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        start = local.replace(
            hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0
        )
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if self.start == self.end:
            return None
        if self.start < self.end:
            inside = start <= local < end
        else:  # over midnight
            inside = local >= start or local < end
            if inside and local >= start:
                end += timedelta(days=1)
        return end.astimezone(UTC) if inside else None


class Preferences(BaseModel):
    """One person's choices (or the defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    muted: list[EventTypePattern] = Field(
        default_factory=list,
        max_length=200,
        description="event types (or prefixes like request.*) not to hear of at all",
    )
    channels: list[AddressKind] | None = Field(
        default=None,
        max_length=50,
        description="address kinds to deliver to off-site (apprise, webhook, email...); "
        "null: every destination set",
    )
    events: dict[EventTypePattern, list[AddressKind]] = Field(
        default_factory=dict,
        max_length=200,
        description="per event type (or prefix.*): the address kinds for it, overriding "
        "channels; an empty list keeps it in the inbox only",
    )
    quiet_hours: QuietHours | None = None

    def wants(self, event_type: str) -> bool:
        """Whether the person hears of ``event_type`` at all."""
        return _match(self.muted, event_type) is None

    def channels_for(self, event_type: str, available: set[str]) -> set[str]:
        """The address kinds to deliver ``event_type`` to, among the ``available`` ones."""
        key = _match(list(self.events), event_type)
        if key is not None:
            return available & set(self.events[key])
        return available if self.channels is None else available & set(self.channels)


def _match(patterns: list[str], event_type: str) -> str | None:
    """The most precise pattern matching ``event_type`` (exact, then the longest prefix)."""
    if event_type in patterns:
        return event_type
    best: str | None = None
    for pattern in patterns:
        prefix = pattern[:-1] if pattern.endswith("*") else None
        if prefix is not None and event_type.startswith(prefix):
            if best is None or len(pattern) > len(best):
                best = pattern
    return best


def user_scope(user_id: int) -> str:
    return f"user:{user_id}"


async def load(scope: str) -> Preferences | None:
    row = await NotificationPreference.get_or_none(scope=scope)
    return None if row is None else Preferences.model_validate(row.settings)


async def defaults() -> Preferences:
    """The admins' defaults (or the built-in ones: everything, everywhere, any time)."""
    return await load(DEFAULTS_SCOPE) or Preferences()


async def of_users(user_ids: list[int]) -> dict[int, Preferences]:
    """Each user's preferences (the defaults for those who chose nothing)."""
    fallback = await defaults()
    scopes = {user_scope(u): u for u in user_ids}
    rows = await NotificationPreference.filter(scope__in=list(scopes)).values_list(
        "scope", "settings"
    )
    chosen: dict[int, Preferences] = {
        scopes[str(scope)]: Preferences.model_validate(settings) for scope, settings in rows
    }
    return {u: chosen.get(u, fallback) for u in user_ids}


async def save(scope: str, preferences: Preferences) -> Preferences:
    data: dict[str, Any] = preferences.model_dump(mode="json")
    now = datetime.now(UTC)
    row = await NotificationPreference.get_or_none(scope=scope)
    if row is None:
        await NotificationPreference.create(scope=scope, settings=data, updated_at=now)
    else:
        row.settings = data
        row.updated_at = now
        await row.save(update_fields=["settings", "updated_at"])
    return preferences
