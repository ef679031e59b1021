"""Request and response models of the sign-in API (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from medianest.core.db.models import User

Flow = Literal["interactive", "credentials"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthProviderView(BaseModel):
    id: str = Field(description="the provider id to use in the sign-in URLs, e.g. plex")
    name: str = Field(description="what to call it on a button, e.g. Plex")
    flow: Flow = Field(
        description="interactive: start, open the URL, poll; credentials: sign-in with a form"
    )


class AuthProviderList(BaseModel):
    items: list[AuthProviderView]
    total: int


class StartSignIn(_Request):
    forward_url: str | None = Field(
        default=None,
        max_length=2000,
        description="where the provider's page sends the browser afterwards: a path on this "
        "hub (/sign-in) or a URL of the same origin",
    )


class SignInChallenge(BaseModel):
    url: str = Field(description="the page where the person approves the sign-in")
    handle: str = Field(description="opaque; pass it to poll")
    expires_at: datetime
    poll_interval_seconds: float
    code: str | None = Field(default=None, description="a short code to show, if any")


class PollSignIn(_Request):
    handle: str = Field(min_length=1, max_length=4096)


class CredentialsSignIn(_Request):
    credentials: dict[
        Annotated[str, Field(min_length=1, max_length=100)],
        Annotated[str, Field(max_length=4096)],
    ] = Field(max_length=20, description="what the person typed, e.g. username and password")


class SignedInUser(BaseModel):
    id: int
    username: str
    display_name: str | None
    email: str | None
    avatar_url: str | None
    role: Literal["admin", "user"]
    created_at: datetime
    last_sign_in_at: datetime | None

    @classmethod
    def of(cls, user: User) -> SignedInUser:
        """The view of a stored user."""
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            avatar_url=user.avatar_url,
            role="admin" if user.role == "admin" else "user",
            created_at=user.created_at,
            last_sign_in_at=user.last_sign_in_at,
        )


class SignInPending(BaseModel):
    status: Literal["pending"] = "pending"


class SessionTokens(BaseModel):
    """A session's tokens, for API clients (browsers get them as cookies too)."""

    session_id: str = Field(description="the session these tokens belong to")
    access_token: str = Field(
        description="send as Authorization: Bearer <access_token>; valid for expires_in seconds"
    )
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str = Field(
        description="spend it at POST /api/v1/auth/refresh for new tokens; each works once"
    )


class SignedIn(SessionTokens):
    status: Literal["signed_in"] = "signed_in"
    provider: str = Field(description="the sign-in method used")
    user: SignedInUser
