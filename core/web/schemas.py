"""Response models of core's own endpoints (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


CircuitStateName = Literal["closed", "open", "half_open"]


class ComponentHealth(BaseModel):
    name: str = Field(description="database, redis, or a provider id such as plex:home")
    ok: bool
    detail: str = ""
    latency_ms: float | None = None
    circuit: CircuitStateName | None = Field(
        default=None,
        description=(
            "live sources: this replica's search circuit breaker (open: searches skip the "
            "source until a trial call succeeds)"
        ),
    )


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    mode: Literal["embedded", "scaled"]
    components: list[ComponentHealth]


class CircuitView(BaseModel):
    """A live source's search circuit breaker on the replica that answered."""

    state: CircuitStateName
    failures: int = Field(description="failures in a row")
    opened_at: datetime | None = Field(default=None, description="when it last opened")
    retry_at: datetime | None = Field(default=None, description="when a trial call is allowed")
    last_error: str | None = Field(default=None, description="what the latest failure was")


class SourceView(BaseModel):
    """A media source a plugin provides."""

    id: str
    name: str
    capabilities: list[str] = Field(description="sorted: library, changes, live_search, ...")
    circuit: CircuitView | None = Field(default=None, description="live sources only")


class PluginView(BaseModel):
    key: str
    distribution: str | None
    version: str | None
    bundled: bool
    enabled: bool
    provides: dict[str, list[str]]
    sources: list[SourceView] = Field(default_factory=list, description="its media sources")


class PluginList(BaseModel):
    items: list[PluginView]
    total: int


class FlagView(BaseModel):
    key: str
    description: str
    default: bool
    enabled: bool
    overridden: bool
    updated_at: datetime | None = None
    updated_by: str | None = None


class FlagList(BaseModel):
    items: list[FlagView]
    total: int
