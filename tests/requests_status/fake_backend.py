"""A request backend held in memory, for the status tests: statuses a test changes behind
the hub's back (missed webhooks), pages counted, and failures on demand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from medianest.core.db.models import MediaRequest as RequestRow
from medianest.core.db.models import User
from medianest.sdk import (
    ExternalIds,
    MediaKind,
    MediaRequest,
    NotFoundError,
    Page,
    PermissionDeniedError,
    UpstreamError,
    decode_cursor,
    encode_cursor,
    hookimpl,
)
from medianest.sdk.models import RequestStatus


class FakeBackend:
    """Requests by remote id, listed newest first; ``fail`` makes every list call raise."""

    name = "Fake requests"

    def __init__(self, backend_id: str = "fakereq:main") -> None:
        self.id = backend_id
        self.requests: dict[str, MediaRequest] = {}
        self.list_calls = 0
        self.principals: list[Any] = []
        self.fail: Exception | None = None

    def add(self, remote_id: str, kind: str, tmdb: int, status: str = "pending") -> MediaRequest:
        request = MediaRequest(
            backend=self.id,
            request_id=remote_id,
            kind=MediaKind(kind),
            ids=ExternalIds(tmdb=tmdb),
            title=f"Title {tmdb}",
            status=RequestStatus(status),
        )
        self.requests[remote_id] = request
        return request

    def set_status(self, remote_id: str, status: str, reason: str | None = None) -> None:
        """Change a request's status here only (the webhook telling the hub is lost)."""
        self.requests[remote_id] = self.requests[remote_id].model_copy(
            update={"status": RequestStatus(status), "reason": reason}
        )

    async def create_request(self, principal: Any, request: Any) -> Any:
        raise PermissionDeniedError("this backend takes no new requests")

    async def get_request(self, principal: Any, request_id: str) -> MediaRequest:
        try:
            return self.requests[request_id]
        except KeyError:
            raise NotFoundError(f"no request {request_id}") from None

    async def list_requests(
        self, principal: Any, cursor: str | None, limit: int, *, everyone: bool = False
    ) -> Page[MediaRequest]:
        self.list_calls += 1
        self.principals.append(principal)
        if self.fail is not None:
            raise self.fail
        ordered = sorted(self.requests.values(), key=lambda r: -int(r.request_id))
        offset = decode_cursor(cursor)["o"] if cursor else 0
        chunk = ordered[offset : offset + limit]
        end = offset + len(chunk)
        return Page(
            items=chunk,
            next_cursor=encode_cursor({"o": end}) if end < len(ordered) else None,
            total=len(ordered),
        )

    async def request_status(self, principal: Any, ids: Any) -> dict[Any, Any]:
        raise AssertionError("the hub must not ask the backend for request statuses")

    async def act(self, principal: Any, request_id: str, action: Any) -> Any:
        raise NotFoundError(f"no request {request_id}")


class FakeBackendPlugin:
    """Offers the given backends (and any media sources given)."""

    def __init__(self, *backends: FakeBackend, sources: Sequence[Any] = ()) -> None:
        self.backends = list(backends)
        self.sources = list(sources)

    @hookimpl
    def register_request_backends(self) -> list[FakeBackend]:
        return self.backends

    @hookimpl
    def register_media_sources(self) -> list[Any]:
        return self.sources


def upstream_down(backend: FakeBackend) -> UpstreamError:
    return UpstreamError(f"{backend.id} is unreachable", source=backend.id)


async def person(username: str = "ann") -> User:
    """A user of the hub (the requester of the rows made here)."""
    return await User.create(username=username, role="user")


async def local_request(
    user: User,
    remote: MediaRequest,
    *,
    status: str | None = None,
    location: tuple[str, str] | None = None,
) -> RequestRow:
    """The hub's row for the backend's ``remote`` request."""
    now = datetime.now(UTC)
    return await RequestRow.create(
        backend=remote.backend,
        remote_id=remote.request_id,
        kind=remote.kind.value,
        tmdb_id=remote.ids.tmdb,
        imdb_id=remote.ids.imdb,
        tvdb_id=remote.ids.tvdb,
        title=remote.title,
        status=status or remote.status.value,
        requested_by=user,
        created_at=now,
        updated_at=now,
        location_source=location[0] if location else None,
        location_item_id=location[1] if location else None,
    )
