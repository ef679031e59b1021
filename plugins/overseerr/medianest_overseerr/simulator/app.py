"""The ASGI app: Overseerr's ``/api/v1`` over an :class:`OverseerrWorld`, plus ``/_control``.

Every ``/api/v1`` request goes through, in the real server's order: fault rules (see
:mod:`.control`), the spec validator (400/404/405, :mod:`.spec`), the user lookup from
``X-Api-Key``/``X-Api-User``, the route's permission check (403
``{"status":403,"error":"You do not have permission to access this endpoint"}``), then the
route. Route errors answer ``{"message": ...}`` as the real Express error handler does.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from quart import Quart, Response, g, request

from medianest_overseerr.simulator import render
from medianest_overseerr.simulator.catalogue import MOVIE, TV, Title
from medianest_overseerr.simulator.control import CONTROL_PREFIX, Control, build_control_blueprint
from medianest_overseerr.simulator.spec import API_PREFIX, SpecValidator, ValidationFailure
from medianest_overseerr.simulator.webhooks import Notification, WebhookSettings
from medianest_overseerr.simulator.world import (
    Exchange,
    Media,
    MediaStatus,
    OverseerrWorld,
    Permission,
    RequestError,
    RequestStatus,
    User,
    UserType,
    WorldError,
)

VERSION = "1.33.2"
SEARCH_PAGE_SIZE = 20
NO_ACCESS = {"status": 403, "error": "You do not have permission to access this endpoint"}
PUBLIC = object()
"""Marks a route that needs no user (``/status``)."""


@dataclass
class Call:
    """What a route handler gets: the acting user, parameters and body."""

    user: User
    params: dict[str, Any]
    path: dict[str, str]
    body: Any


Handler = Callable[[Call], Awaitable[tuple[int, Any]]]


def json_response(status: int, body: Any) -> Response:
    """A JSON answer (``204`` has no body)."""
    if status == 204:
        return Response(b"", status=204)
    return Response(
        orjson.dumps(body), status=status, content_type="application/json; charset=utf-8"
    )


def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"message": message}


class Routes:
    """The ``/api/v1`` routes over one world."""

    def __init__(self, world: OverseerrWorld) -> None:
        self.world = world
        self.table: dict[tuple[str, str], tuple[Handler, Any]] = {}
        self._lists: dict[tuple[Any, ...], list[Any]] = {}
        any_user: tuple[Permission, ...] = ()
        add = self._add
        add("GET", "/status", self.status, PUBLIC)
        add("GET", "/status/appdata", self.appdata, PUBLIC)
        add("GET", "/auth/me", self.me, any_user)
        add("GET", "/search", self.search, any_user)
        add("GET", "/movie/{movieId}", self.movie, any_user)
        add("GET", "/tv/{tvId}", self.tv, any_user)
        add("GET", "/tv/{tvId}/season/{seasonId}", self.season, any_user)
        add("GET", "/request", self.list_requests, any_user)
        add("POST", "/request", self.create_request, any_user)
        add(
            "GET",
            "/request/count",
            self.request_count,
            (Permission.MANAGE_REQUESTS, Permission.REQUEST_VIEW),
        )
        add("GET", "/request/{requestId}", self.get_request, any_user)
        add("PUT", "/request/{requestId}", self.update_request, any_user)
        add("DELETE", "/request/{requestId}", self.delete_request, any_user)
        add("POST", "/request/{requestId}/{status}", self.decide, (Permission.MANAGE_REQUESTS,))
        add("POST", "/request/{requestId}/retry", self.retry, (Permission.MANAGE_REQUESTS,))
        add("GET", "/media", self.list_media, any_user)
        add(
            "POST",
            "/media/{mediaId}/{status}",
            self.set_media_status,
            (Permission.MANAGE_REQUESTS,),
        )
        add("DELETE", "/media/{mediaId}", self.delete_media, (Permission.MANAGE_REQUESTS,))
        add("GET", "/user", self.list_users, (Permission.MANAGE_USERS, Permission.MANAGE_REQUESTS))
        add("POST", "/user", self.create_user, (Permission.MANAGE_USERS,))
        add("GET", "/user/{userId}", self.get_user, any_user)
        add("GET", "/user/{userId}/requests", self.user_requests, any_user)
        add("GET", "/user/{userId}/quota", self.user_quota, any_user)
        add(
            "GET",
            "/settings/notifications/webhook",
            self.get_webhook,
            (Permission.MANAGE_SETTINGS,),
        )
        add(
            "POST",
            "/settings/notifications/webhook",
            self.set_webhook,
            (Permission.MANAGE_SETTINGS,),
        )
        add(
            "POST",
            "/settings/notifications/webhook/test",
            self.test_webhook,
            (Permission.MANAGE_SETTINGS,),
        )
        add("GET", "/issue/count", self.issue_count, any_user)
        add("GET", "/issue", self.issues, any_user)
        add("GET", "/discover/watchlist", self.watchlist, any_user)

    def _remember(self, key: tuple[Any, ...], rows: list[Any]) -> None:
        """Keep a list answer's rows for paging, until the world changes."""
        if any(k[0] != key[0] for k in self._lists):
            self._lists.clear()
        if len(self._lists) >= 32:
            self._lists.pop(next(iter(self._lists)))
        self._lists[key] = rows

    def _add(self, method: str, template: str, handler: Handler, access: Any) -> None:
        self.table[(method, template)] = (handler, access)

    # -- status and auth ---------------------------------------------------------------------

    async def status(self, call: Call) -> tuple[int, Any]:
        return 200, {
            "version": VERSION,
            "commitTag": "local",
            "updateAvailable": False,
            "commitsBehind": 0,
            "restartRequired": False,
        }

    async def appdata(self, call: Call) -> tuple[int, Any]:
        return 200, {"appData": True, "appDataPath": "/app/config"}

    async def me(self, call: Call) -> tuple[int, Any]:
        return 200, render.user_json(self.world, call.user)

    # -- TMDB side ---------------------------------------------------------------------------

    def _search_titles(self, query: str) -> list[Title]:
        cat = self.world.catalogue
        text = query.strip()
        lowered = text.lower()
        for prefix in ("tmdb:", "imdb:", "tvdb:"):
            if lowered.startswith(prefix):
                value = text[len(prefix) :].strip()
                if prefix == "imdb:":
                    found = cat.by_imdb.get(value.lower()) or cat.by_imdb.get(value)
                    return [found] if found else []
                if not value.isdigit():
                    return []
                if prefix == "tvdb:":
                    found = cat.by_tvdb.get(int(value))
                    return [found] if found else []
                return [t for t in (cat.get(MOVIE, int(value)), cat.get(TV, int(value))) if t]
        year: int | None = None
        words = []
        for word in text.split():
            if word.lower().startswith("year:") and word[5:].isdigit():
                year = int(word[5:])
            else:
                words.append(word)
        return cat.search(" ".join(words), year)

    async def search(self, call: Call) -> tuple[int, Any]:
        page = int(call.params.get("page") or 1)
        page = max(page, 1)
        hits = self._search_titles(str(call.params["query"]))
        start = (page - 1) * SEARCH_PAGE_SIZE
        chosen = hits[start : start + SEARCH_PAGE_SIZE]
        return 200, {
            "page": page,
            "totalPages": max(1, math.ceil(len(hits) / SEARCH_PAGE_SIZE)),
            "totalResults": len(hits),
            "results": [render.search_result(self.world, t) for t in chosen],
        }

    def _title(self, media_type: str, raw: Any) -> Title | None:
        try:
            number = int(float(raw))
        except (TypeError, ValueError):
            return None
        return self.world.catalogue.get(media_type, number)

    async def movie(self, call: Call) -> tuple[int, Any]:
        title = self._title(MOVIE, call.params.get("movieId"))
        if title is None:
            return _error(404, "Movie not found.")
        return 200, render.movie_details(self.world, title)

    async def tv(self, call: Call) -> tuple[int, Any]:
        title = self._title(TV, call.params.get("tvId"))
        if title is None:
            return _error(404, "TV show not found.")
        return 200, render.tv_details(self.world, title)

    async def season(self, call: Call) -> tuple[int, Any]:
        title = self._title(TV, call.params.get("tvId"))
        if title is None:
            return _error(404, "TV show not found.")
        found = render.season_details(title, int(call.params.get("seasonId") or 0))
        if found is None:
            return _error(404, "Season not found.")
        return 200, found

    # -- requests ----------------------------------------------------------------------------

    def _sees_all(self, user: User) -> bool:
        return user.can(Permission.MANAGE_REQUESTS, Permission.REQUEST_VIEW, any_of=True)

    async def list_requests(self, call: Call) -> tuple[int, Any]:
        world = self.world
        take = int(call.params.get("take") or 10)
        skip = int(call.params.get("skip") or 0)
        flt = call.params.get("filter") or "all"
        sort = call.params.get("sort") or "added"
        by = call.params.get("requestedBy")
        statuses = {
            "approved": {RequestStatus.APPROVED},
            "processing": {RequestStatus.APPROVED},
            "available": {RequestStatus.APPROVED},
            "pending": {RequestStatus.PENDING},
            "unavailable": {RequestStatus.PENDING, RequestStatus.APPROVED},
            "failed": {RequestStatus.FAILED},
        }.get(flt)
        media_statuses = {
            "available": {MediaStatus.AVAILABLE},
            "processing": {
                MediaStatus.UNKNOWN,
                MediaStatus.PENDING,
                MediaStatus.PROCESSING,
                MediaStatus.PARTIALLY_AVAILABLE,
            },
            "unavailable": {
                MediaStatus.UNKNOWN,
                MediaStatus.PENDING,
                MediaStatus.PROCESSING,
                MediaStatus.PARTIALLY_AVAILABLE,
            },
        }.get(flt)
        owner: User | None = None
        if not self._sees_all(call.user):
            owner = call.user
        elif by is not None:
            owner = world.users.get(int(by))
            if owner is None:
                return 200, {"pageInfo": render.page_info(0, take, skip), "results": []}
        key = (world.version, owner.id if owner else None, flt, sort)
        rows = self._lists.get(key)
        if rows is None:
            rows = [
                r
                for r in world.requests.values()
                if (owner is None or r.requested_by is owner)
                and (statuses is None or r.status in statuses)
                and (media_statuses is None or r.media.status in media_statuses)
            ]
            if sort == "modified":
                rows.sort(key=lambda r: (r.updated_at, r.id), reverse=True)
            else:
                rows.reverse()
            self._remember(key, rows)
        page = rows[skip : skip + take] if take > 0 else []
        return 200, {
            "pageInfo": render.page_info(len(rows), take, skip),
            "results": [render.request_json(world, r) for r in page],
        }

    async def create_request(self, call: Call) -> tuple[int, Any]:
        body = call.body or {}
        on_behalf: User | None = None
        if body.get("userId") is not None:
            if not call.user.can(Permission.MANAGE_USERS, Permission.MANAGE_REQUESTS, any_of=True):
                return _error(403, "You do not have permission to modify the request user.")
            on_behalf = self.world.users.get(int(body["userId"]))
            if on_behalf is None:
                return _error(404, "User not found.")
        try:
            created = self.world.create_request(
                call.user,
                str(body["mediaType"]),
                int(body["mediaId"]),
                body.get("seasons"),
                on_behalf_of=on_behalf,
            )
        except RequestError as exc:
            return _error(exc.status, exc.message)
        return 201, render.request_json(self.world, created)

    async def request_count(self, call: Call) -> tuple[int, Any]:
        key = (self.world.version, "count")
        cached = self._lists.get(key)
        if cached is not None:
            return 200, cached[0]
        counts = self._count()
        self._remember(key, [counts])
        return 200, counts

    def _count(self) -> dict[str, int]:
        rows = list(self.world.requests.values())
        approved = [r for r in rows if r.status == RequestStatus.APPROVED]
        return {
            "total": len(rows),
            "movie": sum(1 for r in rows if r.media_type == MOVIE),
            "tv": sum(1 for r in rows if r.media_type == TV),
            "pending": sum(1 for r in rows if r.status == RequestStatus.PENDING),
            "approved": len(approved),
            "declined": sum(1 for r in rows if r.status == RequestStatus.DECLINED),
            "processing": sum(1 for r in approved if r.media.status != MediaStatus.AVAILABLE),
            "available": sum(1 for r in approved if r.media.status == MediaStatus.AVAILABLE),
        }

    def _visible_request(self, call: Call) -> tuple[int, Any] | Any:
        try:
            req = self.world.request(call.path["requestId"])
        except WorldError:
            return _error(404, "Request not found.")
        return req

    async def get_request(self, call: Call) -> tuple[int, Any]:
        req = self._visible_request(call)
        if isinstance(req, tuple):
            return req
        if req.requested_by is not call.user and not self._sees_all(call.user):
            return _error(401, "You do not have permission to view this request.")
        return 200, render.request_json(self.world, req)

    async def update_request(self, call: Call) -> tuple[int, Any]:
        req = self._visible_request(call)
        if isinstance(req, tuple):
            return req
        manager = call.user.can(Permission.MANAGE_REQUESTS)
        if not manager and (
            req.requested_by is not call.user or req.status != RequestStatus.PENDING
        ):
            return _error(401, "You do not have permission to modify this request.")
        body = call.body or {}
        if body.get("mediaType") != req.media_type:
            return _error(400, "Media type does not match.")
        new_user: User | None = None
        if body.get("userId") is not None:
            if not manager:
                return _error(403, "You do not have permission to modify the request user.")
            new_user = self.world.users.get(int(body["userId"]))
            if new_user is None:
                return _error(404, "User not found.")
        updated = self.world.update_request(
            req.id,
            seasons=[int(s) for s in body["seasons"]] if body.get("seasons") else None,
            user=new_user,
        )
        return 200, render.request_json(self.world, updated)

    async def delete_request(self, call: Call) -> tuple[int, Any]:
        req = self._visible_request(call)
        if isinstance(req, tuple):
            return req
        if not call.user.can(Permission.MANAGE_REQUESTS) and (
            req.requested_by is not call.user or req.status != RequestStatus.PENDING
        ):
            return _error(401, "You do not have permission to delete this request.")
        self.world.delete_request(req.id)
        return 204, None

    async def decide(self, call: Call) -> tuple[int, Any]:
        req = self._visible_request(call)
        if isinstance(req, tuple):
            return req
        if call.path["status"] == "approve":
            done = self.world.approve(req.id, by=call.user)
        else:
            done = self.world.decline(req.id, by=call.user)
        return 200, render.request_json(self.world, done)

    async def retry(self, call: Call) -> tuple[int, Any]:
        req = self._visible_request(call)
        if isinstance(req, tuple):
            return req
        return 200, render.request_json(self.world, self.world.approve(req.id, by=call.user))

    # -- media -------------------------------------------------------------------------------

    async def list_media(self, call: Call) -> tuple[int, Any]:
        take = int(call.params.get("take") or 20)
        skip = int(call.params.get("skip") or 0)
        flt = call.params.get("filter") or "all"
        sort = call.params.get("sort") or "added"
        wanted = {
            "available": {MediaStatus.AVAILABLE},
            "partial": {MediaStatus.PARTIALLY_AVAILABLE},
            "allavailable": {MediaStatus.AVAILABLE, MediaStatus.PARTIALLY_AVAILABLE},
            "processing": {MediaStatus.PROCESSING},
            "pending": {MediaStatus.PENDING},
        }.get(flt)
        rows = [m for m in self.world.media.values() if wanted is None or m.status in wanted]
        if sort == "modified":
            rows.sort(key=lambda m: (m.updated_at, m.id), reverse=True)
        elif sort == "mediaAdded":
            rows.sort(key=lambda m: (m.media_added_at or 0, m.id), reverse=True)
        else:
            rows.reverse()
        page = rows[skip : skip + take] if take > 0 else []
        return 200, {
            "pageInfo": render.page_info(len(rows), take, skip),
            "results": [render.media_json(m) for m in page],
        }

    def _media(self, call: Call) -> Media | None:
        try:
            return self.world.media.get(int(call.path["mediaId"]))
        except ValueError:
            return None

    async def set_media_status(self, call: Call) -> tuple[int, Any]:
        media = self._media(call)
        if media is None:
            return _error(404, "Media not found.")
        status = call.path["status"]
        if status == "partial" and media.media_type == MOVIE:
            return _error(400, "Only series can be set to be partially available")
        if status == "available":
            self.world.media_available(media)
        else:
            self.world.set_media_status(
                media,
                {
                    "partial": MediaStatus.PARTIALLY_AVAILABLE,
                    "processing": MediaStatus.PROCESSING,
                    "pending": MediaStatus.PENDING,
                    "unknown": MediaStatus.UNKNOWN,
                }[status],
            )
        return 200, render.media_json(media)

    async def delete_media(self, call: Call) -> tuple[int, Any]:
        media = self._media(call)
        if media is None:
            return _error(404, "Media not found.")
        self.world.delete_media(media)
        return 204, None

    # -- users -------------------------------------------------------------------------------

    async def list_users(self, call: Call) -> tuple[int, Any]:
        world = self.world
        take = int(call.params.get("take") or 10)
        skip = int(call.params.get("skip") or 0)
        sort = call.params.get("sort") or "created"
        rows = list(world.users.values())
        if sort == "updated":
            rows.sort(key=lambda u: (u.updated_at, u.id), reverse=True)
        elif sort == "requests":
            rows.sort(key=lambda u: (-world.request_count_of(u), u.id))
        elif sort == "displayname":
            rows.sort(key=lambda u: (u.display_name.lower(), u.id))
        page = rows[skip : skip + take] if take > 0 else []
        return 200, {
            "pageInfo": render.page_info(len(rows), take, skip),
            "results": [render.user_json(world, u) for u in page],
        }

    async def create_user(self, call: Call) -> tuple[int, Any]:
        body = call.body or {}
        email = str(body.get("email") or "").strip()
        if not email:
            return _error(400, "Email is required.")
        if any(u.email.lower() == email.lower() for u in self.world.users.values()):
            return 409, {
                "message": "User already exists with submitted email.",
                "errors": ["USER_EXISTS"],
            }
        user = self.world.add_user(
            email=email,
            username=body.get("username") or None,
            permissions=int(body["permissions"]) if body.get("permissions") is not None else None,
        )
        return 201, render.user_json(self.world, user)

    def _user(self, call: Call) -> User | None:
        try:
            return self.world.users.get(int(float(call.path["userId"])))
        except (TypeError, ValueError):
            return None

    async def get_user(self, call: Call) -> tuple[int, Any]:
        user = self._user(call)
        if user is None:
            return _error(404, "User not found.")
        return 200, render.user_json(self.world, user)

    async def user_requests(self, call: Call) -> tuple[int, Any]:
        user = self._user(call)
        if user is None:
            return _error(404, "User not found.")
        if user is not call.user and not self._sees_all(call.user):
            return 403, NO_ACCESS
        take = int(call.params.get("take") or 20)
        skip = int(call.params.get("skip") or 0)
        rows = [r for r in self.world.requests.values() if r.requested_by is user]
        rows.reverse()
        return 200, {
            "pageInfo": render.page_info(len(rows), take, skip),
            "results": [render.request_json(self.world, r) for r in rows[skip : skip + take]],
        }

    async def user_quota(self, call: Call) -> tuple[int, Any]:
        user = self._user(call)
        if user is None:
            return _error(404, "User not found.")
        if user is not call.user and not call.user.can(Permission.MANAGE_USERS):
            return 403, NO_ACCESS
        out: dict[str, Any] = {}
        for key, media_type in (("movie", MOVIE), ("tv", TV)):
            limit, days, used = self.world.quota(user, media_type)
            entry: dict[str, Any] = {"used": used, "restricted": False}
            if limit is not None:
                entry.update(
                    limit=limit, days=days, remaining=max(0, limit - used), restricted=used >= limit
                )
            out[key] = entry
        return 200, out

    # -- settings ----------------------------------------------------------------------------

    async def get_webhook(self, call: Call) -> tuple[int, Any]:
        return 200, self.world.webhook.to_json()

    async def set_webhook(self, call: Call) -> tuple[int, Any]:
        try:
            self.world.webhook.update(call.body or {})
        except ValueError as exc:
            return _error(500, str(exc))
        return 200, self.world.webhook.to_json()

    async def test_webhook(self, call: Call) -> tuple[int, Any]:
        trial = WebhookSettings()
        try:
            trial.update(call.body or {})
        except ValueError as exc:
            return _error(500, str(exc))
        trial.enabled = True
        self.world.notifier.send(
            Notification.TEST_NOTIFICATION,
            {
                "event": "Test Notification",
                "subject": "Test Notification",
                "message": "Check check, 1, 2, 3. Are we coming in clear?",
                "notifyUser": {
                    "displayName": call.user.display_name,
                    "email": call.user.email,
                    "avatar": call.user.avatar,
                },
            },
            settings=trial,
        )
        return 204, None

    # -- issues and watchlist (always empty here) -------------------------------------------

    async def issue_count(self, call: Call) -> tuple[int, Any]:
        return 200, {
            "total": 0,
            "video": 0,
            "audio": 0,
            "subtitles": 0,
            "others": 0,
            "open": 0,
            "closed": 0,
        }

    async def issues(self, call: Call) -> tuple[int, Any]:
        take = int(call.params.get("take") or 10)
        skip = int(call.params.get("skip") or 0)
        return 200, {"pageInfo": render.page_info(0, take, skip), "results": []}

    async def watchlist(self, call: Call) -> tuple[int, Any]:
        return 200, {
            "page": int(call.params.get("page") or 1),
            "totalPages": 1,
            "totalResults": 0,
            "results": [],
        }


def authenticate(world: OverseerrWorld, headers: Any) -> User | None:
    """The real ``checkUser``: the API key acts as user 1, or as ``X-Api-User``."""
    key = headers.get("X-Api-Key")
    if not key or not hmac.compare_digest(key.encode(), world.api_key.encode()):
        return None
    raw = headers.get("X-Api-User")
    if raw is None or raw == "":
        return world.users.get(1)
    try:
        return world.users.get(int(raw))
    except ValueError:
        return None


def _unknown_query(op_params: list[Any], query: dict[str, list[str]]) -> None:
    known = {p.name for p in op_params if p.location == "query"}
    for name in query:
        if name not in known:
            message = f"Unknown query parameter '{name}'"
            raise ValidationFailure(
                400,
                {"message": message, "errors": [{"path": f".query.{name}", "message": message}]},
            )


def create_app(world: OverseerrWorld, control: Control | None = None) -> Quart:
    """An ASGI app serving ``world`` (``/api/v1`` and the ``/_control`` API)."""
    app = Quart("medianest_overseerr.simulator")
    app.url_map.strict_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    validator = SpecValidator()
    anonymous = User(
        id=0,
        email="",
        username=None,
        plex_username=None,
        plex_id=None,
        user_type=UserType.LOCAL,
        permissions=0,
        avatar="",
        created_at=0,
        updated_at=0,
    )
    routes = Routes(world)
    app.register_blueprint(build_control_blueprint(world, control))

    @app.after_serving
    async def stop_notifier() -> None:
        await world.notifier.close()

    @app.before_request
    async def faults() -> Response | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        decision = world.faults.decide(request.path, request.method)
        if decision.delay_ms:
            await asyncio.sleep(decision.delay_ms / 1000)
        if decision.hang is not None:
            await world.faults.hold(decision.hang)
        if world.down_status is not None:
            return Response(
                f"<html><body><h1>{world.down_status} Service Unavailable</h1></body></html>",
                status=world.down_status,
                content_type="text/html",
            )
        rule = decision.reject
        if rule is not None:
            if rule.mode.value == "rate_limit":
                response = json_response(429, {"message": "Too Many Requests"})
                response.headers["Retry-After"] = str(rule.retry_after)
                return response
            return json_response(
                rule.status,
                {"message": "Internal Server Error"}
                if rule.status == 500
                else {"message": f"HTTP {rule.status}"},
            )
        g.malformed = decision.malformed
        return None

    @app.after_request
    async def corrupt(response: Response) -> Response:
        if world.observers and request.path.startswith(API_PREFIX):
            sent = await request.get_data(as_text=False)
            answered: Any = response.get_data()
            if inspect.isawaitable(answered):
                answered = await answered
            exchange = Exchange(
                method=request.method,
                path=request.path,
                query=request.query_string.decode("latin-1"),
                request_headers=dict(request.headers),
                request_body=sent.encode() if isinstance(sent, str) else sent,
                status=response.status_code,
                content_type=response.content_type or "",
                body=answered.encode() if isinstance(answered, str) else answered,
            )
            for observer in world.observers:
                observer(exchange)
        if g.get("malformed"):
            body = await response.get_data()
            response.set_data(body[: max(1, len(body) // 2)] if body else b"<html")
            response.status_code = 200
        return response

    @app.route(API_PREFIX + "/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def api(rest: str) -> Response:
        path = "/" + rest
        try:
            op, path_params = validator.match(request.method, path)
            query = {k: request.args.getlist(k) for k in request.args}
            raw_query = request.query_string.decode("latin-1")
            _unknown_query(op.params, query)
            raw_body = await request.get_data(as_text=False)
            has_body = bool(raw_body and raw_body.strip())
            body: Any = None
            if has_body:
                try:
                    body = json.loads(raw_body)
                except ValueError as exc:
                    raise ValidationFailure(
                        400, {"message": f"Unexpected token in JSON: {exc}", "errors": []}
                    ) from None
            params = validator.validate(op, path_params, raw_query, query, body, has_body)
        except ValidationFailure as failure:
            return json_response(failure.status, failure.body)
        handler, access = routes.table.get((op.method, op.template), (None, None))
        if handler is None:
            return json_response(
                404,
                {
                    "message": "not found",
                    "errors": [{"path": API_PREFIX + path, "message": "not found"}],
                },
            )
        user = authenticate(world, request.headers)
        if access is not PUBLIC:
            if user is None or (access and not user.can(*access, any_of=True)):
                return json_response(403, NO_ACCESS)
        call = Call(
            user=user if user is not None else anonymous,
            params={**path_params, **params},
            path=path_params,
            body=body,
        )
        status, payload = await handler(call)
        return json_response(status, payload)

    @app.route(API_PREFIX + "/", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    @app.route(API_PREFIX, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def api_root() -> Response:
        return json_response(
            404, {"message": "not found", "errors": [{"path": API_PREFIX, "message": "not found"}]}
        )

    return app
