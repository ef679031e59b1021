"""One Overseerr instance as a :class:`~medianest.sdk.RequestBackend` (``overseerr:<name>``).

**Attribution.** Every request is made in Overseerr as the person who asks: their Overseerr
user is found by Plex account id or email (:mod:`medianest_overseerr.users`) and the call
carries ``X-Api-User: <their id>``, so Overseerr applies *their* permissions, quotas and
auto-approval, and shows the request as theirs. A person without an Overseerr user gets
``AccountNotLinkedError`` (or a new user, with ``create_missing_users``); a request is never
filed as Overseerr's admin. Managing actions (approve, decline, retry, delete, reading
someone else's request) are made as the manager's own Overseerr user when they have one;
a hub manager without one (core checked ``manage_requests``) acts with the instance's key.

**Calls.** ``create_request``, ``get_request`` and ``act`` make one call each (plus, once per
few minutes per instance, the paged read of ``GET /user`` that the attribution directory
needs). ``list_requests`` makes one ``GET /request`` per page. ``request_status`` reads
``GET /request?take=100`` newest first and stops as soon as every asked id is found: at most
``ceil(requests / 100)`` calls (and at most 100 pages), whatever the number of ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from medianest.sdk import (
    ExternalIds,
    HealthStatus,
    MediaKind,
    MediaRequest,
    MediaRequestCreate,
    Page,
    Permission,
    Principal,
    RequestAction,
    decode_cursor,
    encode_cursor,
)
from medianest.sdk.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from medianest.sdk.services import Cache
from medianest_overseerr.client import OverseerrClient, overseerr_message
from medianest_overseerr.const import MAX_STATUS_PAGES, PLUGIN_KEY, REQUEST_PAGE_SIZE
from medianest_overseerr.health import check_instance
from medianest_overseerr.mapping import KIND_MEDIA_TYPES, BadShape, to_item, to_request
from medianest_overseerr.settings import InstanceSettings
from medianest_overseerr.users import LocalCache, UserDirectory

ACTION_PATHS: dict[str, str] = {"approve": "approve", "decline": "decline", "retry": "retry"}
MAX_REQUEST_ID_DIGITS = 12


class OverseerrRequestBackend:
    """Requests filed, listed and acted on in one Overseerr instance, as the person."""

    def __init__(
        self,
        instance: InstanceSettings,
        client: OverseerrClient,
        *,
        cache: Callable[[], Cache | LocalCache] | None = None,
    ) -> None:
        self.instance = instance
        self.client = client
        self.id = instance.provider_id
        self.name = f"Overseerr '{instance.name}'"
        local = LocalCache()
        self.users = UserDirectory(
            client,
            name=instance.name,
            create_missing=instance.create_missing_users,
            cache=cache or (lambda: local),
        )

    async def aclose(self) -> None:
        """Close the HTTP client (shared with the instance's media source)."""
        if not self.client.closed:
            await self.client.aclose()

    async def health(self) -> HealthStatus:
        """Whether the instance answers and accepts the key (never raises)."""
        return await check_instance(self.client)

    # -- RequestBackend ---------------------------------------------------------------------

    async def create_request(
        self, principal: Principal, request: MediaRequestCreate
    ) -> MediaRequest:
        """File ``request`` in Overseerr as the principal's own Overseerr user.

        :raises InvalidInputError: no TMDB id (``ids.tmdb``).
        :raises AccountNotLinkedError: the person has no Overseerr user.
        :raises ConflictError: already requested, or no season is left to request.
        :raises PermissionDeniedError: Overseerr refused (the person's rights or quota).
        """
        if request.ids.tmdb is None:
            raise InvalidInputError(
                f"{self.name} needs the title's TMDB id to request it", field="ids.tmdb"
            )
        media_type = KIND_MEDIA_TYPES[MediaKind(request.kind)]
        title, year = request.title, None
        if title is None:  # asked by TMDB id alone: name it (and refuse an unknown id) first
            title, year = await self._title_of(media_type, request.ids.tmdb)
        body: dict[str, Any] = {"mediaType": media_type, "mediaId": request.ids.tmdb}
        if media_type == "tv":
            body["seasons"] = sorted(set(request.seasons)) if request.seasons else "all"
            if request.ids.tvdb is not None:
                body["tvdbId"] = request.ids.tvdb
        as_user = await self.users.user_id(principal)
        raw, response = await self.client.call_json(
            "POST", "/request", as_user=as_user, json_body=body
        )
        if response.status_code == 202:  # Overseerr: "No seasons available to request"
            said = overseerr_message(response) or "no season is left to request"
            raise ConflictError(f"{self.name} did not file the request: {said}", plugin=PLUGIN_KEY)
        made = self._request(raw, "POST /request", title=title)
        return made if year is None else made.model_copy(update={"year": year})

    async def _title_of(self, media_type: str, tmdb: int) -> tuple[str, int | None]:
        """The title and year of TMDB title ``tmdb`` (``/movie/{id}`` or ``/tv/{id}``).

        :raises NotFoundError: TMDB has no such title.
        """
        path = f"/{media_type}/{tmdb}"
        body, _ = await self.client.call_json("GET", path)
        try:
            item = to_item(
                self.id, {**body, "mediaType": media_type} if isinstance(body, dict) else body
            )
        except BadShape as exc:
            raise self.client.data_error(
                f"answered GET {path} with a title it cannot be: {exc}"
            ) from exc
        if item is None:
            raise self.client.data_error(f"answered GET {path} with something else")
        return item.title, item.year

    async def get_request(self, principal: Principal, request_id: str) -> MediaRequest:
        """One request, read as the principal (or with the key for an unlinked manager).

        :raises NotFoundError: no such request, or the person may not see it.
        """
        number = _request_number(request_id, self.name)
        as_user = await self._acting_user(principal)
        try:
            raw, _ = await self.client.call_json("GET", f"/request/{number}", as_user=as_user)
        except PermissionDeniedError as exc:
            raise NotFoundError(
                f"{self.name} has no request {number} this person may see", plugin=PLUGIN_KEY
            ) from exc
        return self._request(raw, f"GET /request/{number}")

    async def list_requests(
        self, principal: Principal, cursor: str | None, limit: int, *, everyone: bool = False
    ) -> Page[MediaRequest]:
        """Requests newest first, ``limit`` per page (``GET /request?take&skip``).

        The cursor keeps the offset and the last id handed out: requests filed while someone
        pages push older ones down, and those already seen are not handed out twice.

        :raises InvalidInputError: ``cursor`` was not made by this backend for this listing.
        """
        limit = max(1, min(limit, 100))
        offset: Any = 0
        last: Any = None
        if cursor is not None:
            state = decode_cursor(cursor)
            if state.get("b") != self.id or state.get("e") is not everyone:
                raise InvalidInputError(f"the cursor is not one of {self.name}'s", field="cursor")
            offset, last = state.get("s"), state.get("l")
            if not isinstance(offset, int) or offset < 0 or not isinstance(last, int | None):
                raise InvalidInputError("the cursor is not valid", field="cursor")
        query: list[tuple[str, str | int]] = [
            ("take", limit),
            ("skip", offset),
            ("filter", "all"),
            ("sort", "added"),
        ]
        if everyone:
            as_user = await self._acting_user(principal)
        else:
            as_user = await self.users.find(principal)
            if as_user is None:  # no Overseerr user: no requests there
                return Page(items=[], next_cursor=None, total=0)
            query.append(("requestedBy", as_user))
        body, _ = await self.client.call_json("GET", "/request", query=query, as_user=as_user)
        results, total = self._results(body, "GET /request")
        items = [
            self._request(raw, "GET /request")
            for raw in results
            if not (isinstance(last, int) and _id_of(raw) >= last)
        ]
        skip = offset + len(results)
        next_cursor = None
        if results and (total is None or skip < total):
            lowest = min((int(i.request_id) for i in items), default=last)
            next_cursor = encode_cursor({"b": self.id, "e": everyone, "s": skip, "l": lowest})
        return Page(items=items, next_cursor=next_cursor, total=total)

    async def request_status(
        self, principal: Principal, ids: Sequence[ExternalIds]
    ) -> dict[ExternalIds, MediaRequest]:
        """The newest request of each of ``ids`` (anyone's), from ``GET /request`` pages of
        100, newest first, stopping once every id is found (see the module's call count).

        Read with the instance's key: looking a status up files nothing for anyone.
        """
        wanted = [i for i in ids if i.tmdb is not None or i.tvdb is not None or i.imdb]
        found: dict[ExternalIds, MediaRequest] = {}
        skip = 0
        for _ in range(MAX_STATUS_PAGES if wanted else 0):
            query: list[tuple[str, str | int]] = [
                ("take", REQUEST_PAGE_SIZE),
                ("skip", skip),
                ("filter", "all"),
                ("sort", "added"),
            ]
            body, _ = await self.client.call_json("GET", "/request", query=query)
            results, total = self._results(body, "GET /request")
            for raw in results:
                request = self._request(raw, "GET /request")
                for asked in wanted:
                    if asked not in found and _same_title(asked, request.ids):
                        found[asked] = request
            skip += len(results)
            if (
                len(found) == len(set(wanted))
                or not results
                or (total is not None and skip >= total)
            ):
                break
        return found

    async def act(
        self, principal: Principal, request_id: str, action: RequestAction
    ) -> MediaRequest | None:
        """Approve, decline or retry (``POST /request/{id}/<action>``) or delete
        (``DELETE /request/{id}``, ``None``), as the principal's Overseerr user.

        :raises NotFoundError: no such request.
        :raises PermissionDeniedError: Overseerr refused the action for this person.
        :raises InvalidInputError: an unknown action.
        """
        number = _request_number(request_id, self.name)
        if action != "delete" and action not in ACTION_PATHS:
            raise InvalidInputError(
                f"unknown request action {action!r}; use approve, decline, retry or delete",
                field="action",
            )
        as_user = await self._acting_user(principal)
        if action == "delete":
            await self.client.call("DELETE", f"/request/{number}", as_user=as_user)
            return None
        path = f"/request/{number}/{ACTION_PATHS[action]}"
        raw, _ = await self.client.call_json("POST", path, as_user=as_user)
        return self._request(raw, f"POST {path}")

    # -- helpers -----------------------------------------------------------------------------

    async def _acting_user(self, principal: Principal) -> int | None:
        """Who to act as for a read or a managing action: the person's Overseerr user;
        ``None`` (the key alone) only for a hub manager without one."""
        found = await self.users.find(principal)
        if found is not None:
            return found
        if principal.has(Permission.MANAGE_REQUESTS):
            return None
        return await self.users.user_id(principal)  # raises AccountNotLinkedError, or creates

    def _request(self, raw: Any, what: str, *, title: str | None = None) -> MediaRequest:
        try:
            return to_request(self.id, raw, title=title)
        except BadShape as exc:
            raise self.client.data_error(
                f"answered {what} with a request it cannot be: {exc}"
            ) from exc

    def _results(self, body: Any, what: str) -> tuple[list[Any], int | None]:
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise self.client.data_error(f"answered {what} without a list of results")
        info = body.get("pageInfo")
        total = info.get("results") if isinstance(info, dict) else None
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            total = None
        return results, total


def _request_number(request_id: str, name: str) -> int:
    """The numeric id Overseerr uses; anything else cannot be one of its requests."""
    text = request_id.strip()
    if not text.isdigit() or len(text) > MAX_REQUEST_ID_DIGITS or int(text) == 0:
        raise NotFoundError(f"{name} has no request {request_id[:40]!r}", plugin=PLUGIN_KEY)
    return int(text)


def _id_of(raw: Any) -> int:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _same_title(asked: ExternalIds, known: ExternalIds) -> bool:
    if asked.tmdb is not None and known.tmdb is not None:
        return asked.tmdb == known.tmdb
    if asked.tvdb is not None and known.tvdb is not None:
        return asked.tvdb == known.tvdb
    return bool(asked.imdb) and asked.imdb == known.imdb
