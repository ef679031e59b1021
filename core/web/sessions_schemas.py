"""Request and response models of the sessions API (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from medianest.core.auth.devices import describe_device
from medianest.core.db.models import Session
from medianest.core.web.signin_schemas import SessionTokens, SignedInUser


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RefreshRequest(_Request):
    refresh_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="the refresh token; omit it ({}) to use the refresh cookie (browsers)",
    )


class SignOutRequest(_Request):
    refresh_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="identifies the session when no access token comes with the request",
    )


class Refreshed(SessionTokens):
    status: Literal["refreshed"] = "refreshed"


class SignedOutEverywhere(BaseModel):
    revoked: int = Field(description="how many sessions were ended")


class Me(BaseModel):
    user: SignedInUser
    role: Literal["admin", "user"] = Field(description="as this request acts")
    permissions: list[str] = Field(
        description="what this request may do: an API key's are its scopes within its user's"
    )
    authenticated_by: Literal["bearer", "cookie", "api_key"]
    session_id: str | None = Field(description="the current session; none for API keys")


class SessionView(BaseModel):
    id: str
    device: str = Field(description="browser and system, or the client's name, e.g. curl 8.5.0")
    user_agent: str | None
    ip: str | None = Field(description="the address it was last used from")
    created_at: datetime
    last_seen_at: datetime = Field(description="sign-in or last refresh of its tokens")
    expires_at: datetime = Field(description="it ends then unless refreshed before")
    current: bool = Field(description="the session of this request")

    @classmethod
    def of(cls, session: Session, *, current_id: str | None) -> SessionView:
        """The view of a stored session."""
        return cls(
            id=session.id,
            device=describe_device(session.user_agent),
            user_agent=session.user_agent,
            ip=session.ip,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            expires_at=session.expires_at,
            current=session.id == current_id,
        )


class SessionList(BaseModel):
    items: list[SessionView]
    total: int
