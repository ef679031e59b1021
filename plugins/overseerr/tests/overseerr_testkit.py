"""Helpers for the Overseerr plugin tests: the spec check every request the plugin sends
goes through, recorded Overseerr shapes, and a small fake hub.

:class:`SpecCheckingTransport` wraps the real transport: each request the plugin sends is
validated against ``shared/specs/overseerr-api.yml`` (the document the real Overseerr
validates every request against, with ``express-openapi-validator``) with openapi-core, and
its query string must not carry a ``+`` (Overseerr refuses reserved characters there), before
it goes out. A request the real server would refuse fails the test at once.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from medianest.sdk import MediaRequest, Permission, Principal
from medianest.sdk.services import JobHandle, RateLimitResult
from medianest_overseerr.settings import InstanceSettings
from medianest_overseerr.simulator import OverseerrWorld, RunningOverseerr

SEED = 23
API_KEY = "plugin-tests-api-key-0123456789"
WEBHOOK_SECRET = "plugin-tests-webhook-secret"

SPEC_PATH = Path(__file__).resolve().parents[4] / "shared" / "specs" / "overseerr-api.yml"


@functools.cache
def overseerr_spec() -> OpenAPI:
    """Overseerr's OpenAPI document, its server pointed at loopback (any port).

    YAML dates in its examples are read as strings (JSON has no date type).
    """
    raw = yaml.load(SPEC_PATH.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    spec = json.loads(json.dumps(raw, default=str))
    spec["servers"] = [
        {
            "url": "http://{host}:{port}/api/v1",
            "variables": {"host": {"default": "127.0.0.1"}, "port": {"default": "5055"}},
        }
    ]
    return OpenAPI.from_dict(spec)


@dataclass
class _SpecRequest:
    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str


def check_request(request: httpx.Request) -> None:
    """Assert ``request`` is one the real Overseerr accepts (see the module docstring)."""
    raw_query = request.url.query.decode()
    assert "+" not in raw_query, f"a + in the query string is refused by Overseerr: {raw_query}"
    body = request.content or None
    spec_request = _SpecRequest(
        host_url=f"{request.url.scheme}://{request.url.netloc.decode()}",
        path=request.url.path,
        method=request.method.lower(),
        parameters=RequestParameters(
            query=ImmutableMultiDict(parse_qsl(raw_query, keep_blank_values=True)),
            header=Headers(list(request.headers.items())),
        ),
        body=body,
        content_type=request.headers.get("content-type", "application/json").split(";")[0],
    )
    overseerr_spec().validate_request(spec_request)


class SpecCheckingTransport(httpx.AsyncBaseTransport):
    """Checks every request against the spec, records it, then sends it on."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        check_request(request)
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def calls(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        """The recorded requests, optionally of one method and path (``/api/v1/...``)."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.url.path == path)
        ]


# -- recorded shapes (python-overseerr's fixtures and the spec's examples) -----------------


def user_json(
    user_id: int, *, plex_id: int | None = None, email: str | None = None
) -> dict[str, Any]:
    """A ``User`` as ``GET /user`` lists it."""
    return {
        "permissions": 32,
        "id": user_id,
        "email": email or f"user{user_id}@example.org",
        "plexUsername": f"plex{user_id}",
        "username": None,
        "userType": 1,
        "plexId": plex_id,
        "avatar": "/os_logo_square.png",
        "movieQuotaLimit": None,
        "movieQuotaDays": None,
        "tvQuotaLimit": None,
        "tvQuotaDays": None,
        "createdAt": "2024-01-01T10:00:00.000Z",
        "updatedAt": "2024-01-01T10:00:00.000Z",
        "requestCount": 0,
        "displayName": f"Person {user_id}",
    }


def request_json(
    request_id: int,
    *,
    status: int = 1,
    media_status: int = 2,
    media_type: str = "movie",
    tmdb: int = 603,
    tvdb: int | None = None,
    imdb: str | None = None,
    user: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``MediaRequest`` as Overseerr answers it (keys of python-overseerr's fixture)."""
    return {
        "id": request_id,
        "status": status,
        "createdAt": "2024-05-01T12:00:00.000Z",
        "updatedAt": "2024-05-02T12:00:00.000Z",
        "type": media_type,
        "is4k": False,
        "serverId": 0,
        "profileId": 4,
        "rootFolder": "/movies",
        "languageProfileId": None,
        "tags": [],
        "isAutoRequest": False,
        "media": {
            "downloadStatus": [],
            "downloadStatus4k": [],
            "id": request_id + 1000,
            "mediaType": media_type,
            "tmdbId": tmdb,
            "tvdbId": tvdb,
            "imdbId": imdb,
            "status": media_status,
            "status4k": 1,
            "createdAt": "2024-05-01T12:00:00.000Z",
            "updatedAt": "2024-05-02T12:00:00.000Z",
            "lastSeasonChange": "2024-05-01T12:00:00.000Z",
            "mediaAddedAt": None,
            "serviceId": None,
            "serviceId4k": None,
            "externalServiceId": None,
            "externalServiceId4k": None,
            "externalServiceSlug": None,
            "externalServiceSlug4k": None,
            "ratingKey": None,
            "ratingKey4k": None,
        },
        "seasons": [],
        "modifiedBy": None,
        "requestedBy": user or user_json(2, plex_id=9001),
        "seasonCount": 0,
    }


def webhook_payload(
    notification_type: str = "MEDIA_APPROVED",
    *,
    request_id: int | str = 7,
    media_type: str = "movie",
    tmdb: str = "603",
) -> dict[str, Any]:
    """Overseerr's default webhook JSON template, rendered as its webhook agent sends it."""
    return {
        "notification_type": notification_type,
        "event": "Movie Request Approved",
        "subject": "The Matrix (1999)",
        "message": "Welcome to the Real World.",
        "image": "https://image.tmdb.org/t/p/w600_and_h900_bestv2/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg",
        "media": {
            "media_type": media_type,
            "tmdbId": tmdb,
            "tvdbId": "",
            "status": "PROCESSING",
            "status4k": "UNKNOWN",
        },
        "request": {
            "request_id": str(request_id),
            "requestedBy_email": "friend@example.org",
            "requestedBy_username": "friend",
            "requestedBy_avatar": "/os_logo_square.png",
        },
        "issue": None,
        "comment": None,
        "extra": [],
    }


# -- a small hub -------------------------------------------------------------------------------


class MemoryCache:
    """The hub's cache in memory (TTL ignored: tests are short)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def get(self, key: str) -> Any | None:
        return self.values.get(key)

    async def set(self, key: str, value: Any, ttl: float) -> None:
        self.values[key] = value

    async def delete(self, key: str) -> None:
        self.values.pop(key, None)

    async def get_or_set(self, key: str, ttl: float, compute: Any) -> Any:
        if key not in self.values:
            self.values[key] = await compute()
        return self.values[key]


class MemoryRateLimiter:
    """Counts hits per key (no window: tests are short)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def hit(self, key: str, limit: int, window: float, cost: int = 1) -> RateLimitResult:
        self.counts[key] = self.counts.get(key, 0) + cost
        used = self.counts[key]
        return RateLimitResult(
            allowed=used <= limit, limit=limit, remaining=max(0, limit - used), reset_after=window
        )

    async def reset(self, key: str) -> None:
        self.counts.pop(key, None)


@dataclass(eq=False)
class FakeHub:
    """What the webhook receiver uses of the hub: cache, rate limiter, request_changed."""

    known: set[tuple[str, str]] = field(default_factory=set)
    changed: list[MediaRequest] = field(default_factory=list)
    cache: MemoryCache = field(default_factory=MemoryCache)
    rate_limiter: MemoryRateLimiter = field(default_factory=MemoryRateLimiter)

    async def request_changed(self, request: MediaRequest) -> bool:
        self.changed.append(request)
        return (request.backend, request.request_id) in self.known

    async def emit(self, event: Any) -> None:
        return None

    async def notify(self, notification: Any) -> JobHandle:
        return JobHandle(job_id="n", queued=True)

    def provider(self, provider_id: str) -> Any:
        raise KeyError(provider_id)


# -- the simulator ------------------------------------------------------------------------


def instance_for(sim: RunningOverseerr, **overrides: Any) -> InstanceSettings:
    """Settings of the instance ``home`` pointing at ``sim``."""
    values: dict[str, Any] = {
        "name": "home",
        "url": sim.url,
        "api_key": sim.api_key,
        "webhook_secret": WEBHOOK_SECRET,
        "timeout": 2.0,
    }
    return InstanceSettings(**(values | overrides))


def person(world: OverseerrWorld, account: str, user_id: int = 50) -> Principal:
    """A hub person signed in with the Plex world's account ``account``."""
    plex = world.plex.accounts[account]
    return Principal(
        user_id=user_id,
        username=plex.username,
        email=plex.email or None,
        identities={"plex": str(plex.id)},
        permissions=frozenset({str(Permission.REQUEST)}),
    )
