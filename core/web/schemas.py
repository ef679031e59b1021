"""Response models of core's own endpoints (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class ComponentHealth(BaseModel):
    name: str = Field(description="database, redis, or a provider id such as plex:home")
    ok: bool
    detail: str = ""
    latency_ms: float | None = None


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    mode: Literal["embedded", "scaled"]
    components: list[ComponentHealth]


class PluginView(BaseModel):
    key: str
    distribution: str | None
    version: str | None
    bundled: bool
    enabled: bool
    provides: dict[str, list[str]]


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
