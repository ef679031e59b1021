"""Driving a simulated Overseerr from tests and demos: ``/_control`` over HTTP, and
:class:`Control` in Python. Both call the same world methods; fault rules never apply here.

=======  ======================================  =============================================
method   path                                    body / effect
=======  ======================================  =============================================
GET      /_control/state                         users, counts, faults, webhook settings
POST     /_control/reset                         back to the generated state
POST     /_control/clock                         ``{"advance": seconds}``
GET      /_control/requests/{id}                 the request as the API shows it
POST     /_control/requests/{id}/{action}        ``approve``, ``decline``, ``available``
                                                 (media available, webhooks; ``{"plex":
                                                 true}`` also adds it to Plex), ``failed``
POST     /_control/media/available               ``{"mediaType", "tmdbId", "seasons"?}``
POST     /_control/users                         ``{"email", "username"?, "permissions"?,
                                                 "plexId"?}`` or ``{"plexAccount": "friend2"}``
PATCH    /_control/users/{id}                    ``{"permissions"}``
PUT      /_control/users/{id}/quota              ``{"movieQuotaLimit", "movieQuotaDays",
                                                 "tvQuotaLimit", "tvQuotaDays"}``
POST     /_control/slow                          ``{"ms": 200}`` every API answer waits (0 ends)
POST     /_control/fail                          ``{"status": 500|429|503|..., "times": N}`` or
                                                 ``{"garbage": true, "times": N}``
POST     /_control/down                          ``{"mode": "503"}`` answers 503 to everything;
                                                 ``{"mode": "refuse", "seconds": S}`` closes the
                                                 port (connection refused) for S seconds
POST     /_control/up                            ends ``down`` (503 mode)
GET/POST/DELETE /_control/faults[/{id}]          raw fault rules (the Plex simulator's format)
GET      /_control/webhooks                      every webhook sent and its outcome
=======  ======================================  =============================================

Errors answer ``{"error": "...", "status": N}`` (400 bad input, 404 unknown thing).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Blueprint, Response, request

from medianest_overseerr.simulator.catalogue import MOVIE, TV
from medianest_overseerr.simulator.world import MediaRequest, OverseerrWorld, User, WorldError
from medianest_plex.simulator.faults import FaultMode
from medianest_plex.simulator.query import BadRequest

CONTROL_PREFIX = "/_control"
RefuseHook = Callable[[float], Awaitable[None]]


def _problem(status: int, message: str) -> Response:
    return Response(
        json.dumps({"error": message, "status": status}),
        status=status,
        content_type="application/json",
    )


def _ok(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _int(
    body: dict[str, Any], name: str, low: int, high: int, *, required: bool = False
) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name} must be an integer between {low} and {high}")
    return value


class Control:
    """The control operations, in Python (``handle.control``) and behind ``/_control``."""

    def __init__(self, world: OverseerrWorld) -> None:
        self.world = world
        self.refuse_hook: RefuseHook | None = None

    # -- requests ----------------------------------------------------------------------------

    def approve(self, request_id: int) -> MediaRequest:
        """Approve as the admin (status 2, media processing); sends the webhook."""
        return self.world.approve(request_id)

    def decline(self, request_id: int) -> MediaRequest:
        """Decline as the admin (status 3); sends the webhook."""
        return self.world.decline(request_id)

    def available(
        self, request_id: int, *, plex: bool = False, server: str | int = 0
    ) -> MediaRequest:
        """The requested title arrived: media status 5; sends the webhook. With ``plex``, the
        title is also added to the Plex world's ``server`` with its own ids."""
        return self.world.make_available(request_id, plex=plex, server=server)

    def failed(self, request_id: int) -> MediaRequest:
        """The download service refused it (request status 4); sends the webhook."""
        return self.world.fail(request_id)

    def media_available(
        self, media_type: str, tmdb_id: int, seasons: list[int] | None = None
    ) -> None:
        """Mark a title available whether or not it was requested."""
        media = self.world.track(self.world.title(media_type, tmdb_id))
        self.world.media_available(media, seasons)

    # -- users -------------------------------------------------------------------------------

    def add_user(
        self,
        *,
        email: str,
        username: str | None = None,
        permissions: int | None = None,
        plex_id: int | None = None,
    ) -> User:
        """Create a user."""
        return self.world.add_user(
            email=email, username=username, permissions=permissions, plex_id=plex_id
        )

    def set_quota(
        self,
        user_id: int,
        *,
        movie_limit: int | None = None,
        movie_days: int | None = None,
        tv_limit: int | None = None,
        tv_days: int | None = None,
    ) -> User:
        """Set a user's quotas."""
        return self.world.set_quota(
            user_id,
            movie_limit=movie_limit,
            movie_days=movie_days,
            tv_limit=tv_limit,
            tv_days=tv_days,
        )

    # -- faults ------------------------------------------------------------------------------

    def slow(self, ms: int) -> None:
        """Every API answer waits ``ms`` milliseconds (0 ends it)."""
        self.world.faults.rules = [
            r
            for r in self.world.faults.rules
            if not (r.mode == FaultMode.LATENCY and r.path == "/api/*")
        ]
        if ms > 0:
            self.world.faults.add(FaultMode.LATENCY, path="/api/*", latency_ms=ms)

    def fail(
        self,
        status: int = 500,
        times: int | None = 1,
        *,
        garbage: bool = False,
        path: str = "/api/*",
        retry_after: int = 1,
    ) -> None:
        """The next ``times`` API calls answer ``status`` (429 with ``Retry-After``), or
        200 with a body cut in half when ``garbage``."""
        if garbage:
            self.world.faults.add(FaultMode.MALFORMED, path=path, times=times)
        elif status == 429:
            self.world.faults.add(
                FaultMode.RATE_LIMIT, path=path, times=times, retry_after=retry_after
            )
        else:
            self.world.faults.add(FaultMode.ERROR, path=path, times=times, status=status)

    def down(self, status: int = 503) -> None:
        """Answer ``status`` (default 503) to every API call until :meth:`up`."""
        self.world.down_status = status

    def up(self) -> None:
        """End :meth:`down`."""
        self.world.down_status = None

    async def refuse(self, seconds: float) -> None:
        """Close the port for ``seconds`` (clients get connection refused); needs a served
        simulator (:func:`~medianest_overseerr.simulator.serve_simulator`)."""
        if self.refuse_hook is None:
            raise RuntimeError("refusing connections needs a simulator served over HTTP")
        await self.refuse_hook(seconds)

    def clear_faults(self) -> None:
        """Drop every fault (slow, fail, down)."""
        self.world.faults.clear()
        self.world.down_status = None

    async def drain_webhooks(self, within: float = 10.0) -> None:
        """Wait until every queued webhook has been sent."""
        await self.world.notifier.drain(within)

    def reset(self) -> None:
        """Back to the generated state."""
        self.world.reset()


async def _body() -> dict[str, Any]:
    raw = await request.get_data(as_text=False)
    if not raw or not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def build_control_blueprint(world: OverseerrWorld, control: Control | None = None) -> Blueprint:
    """The ``/_control`` routes over ``world``."""
    from medianest_overseerr.simulator import render

    ctl = control or Control(world)
    bp = Blueprint("overseerr_control", __name__, url_prefix=CONTROL_PREFIX)

    @bp.errorhandler(LookupError)
    async def unknown(error: LookupError) -> Response:
        return _problem(404, str(error))

    @bp.errorhandler(BadRequest)
    async def bad(error: BadRequest) -> Response:
        return _problem(400, str(error))

    @bp.errorhandler(ValueError)
    async def bad_value(error: ValueError) -> Response:
        return _problem(400, str(error))

    @bp.get("/state")
    async def state() -> Response:
        return _ok(world.describe())

    @bp.post("/reset")
    async def reset() -> Response:
        world.reset()
        return _ok(world.describe())

    @bp.post("/clock")
    async def clock() -> Response:
        seconds = _int(await _body(), "advance", 0, 10 * 365 * 86400, required=True)
        return _ok({"now": world.advance_clock(seconds or 0)})

    @bp.get("/requests/<request_id>")
    async def get_request(request_id: str) -> Response:
        return _ok(render.request_json(world, world.request(request_id)))

    @bp.post("/requests/<request_id>/<action>")
    async def act(request_id: str, action: str) -> Response:
        actions: dict[str, Callable[[str], MediaRequest]] = {
            "approve": world.approve,
            "decline": world.decline,
            "available": world.make_available,
            "failed": world.fail,
        }
        if action not in actions:
            raise BadRequest(f"action must be one of {', '.join(actions)}")
        if action == "available":
            body = await _body()
            server = body.get("server", 0)
            if not isinstance(server, (str, int)) or isinstance(server, bool):
                raise BadRequest("server must be a Plex server slug or index")
            req = world.make_available(request_id, plex=body.get("plex") is True, server=server)
        else:
            req = actions[action](request_id)
        return _ok(render.request_json(world, req))

    @bp.post("/media/available")
    async def media_available() -> Response:
        body = await _body()
        media_type = body.get("mediaType")
        if media_type not in (MOVIE, TV):
            raise BadRequest("mediaType must be movie or tv")
        tmdb = _int(body, "tmdbId", 1, 10**9, required=True) or 0
        seasons = body.get("seasons")
        if seasons is not None and (
            not isinstance(seasons, list) or not all(isinstance(s, int) for s in seasons)
        ):
            raise BadRequest("seasons must be a list of season numbers")
        ctl.media_available(media_type, tmdb, seasons)
        media = world.media_for(world.title(media_type, tmdb))
        assert media is not None
        return _ok(render.media_json(media))

    @bp.post("/users")
    async def add_user() -> Response:
        body = await _body()
        if body.get("plexAccount"):
            user = world.add_plex_account(
                str(body["plexAccount"]), _int(body, "permissions", 0, 2**20)
            )
        else:
            email = body.get("email")
            if not isinstance(email, str) or "@" not in email:
                raise BadRequest("email is required")
            user = world.add_user(
                email=email,
                username=body.get("username") if isinstance(body.get("username"), str) else None,
                permissions=_int(body, "permissions", 0, 2**20),
                plex_id=_int(body, "plexId", 1, 2**62),
            )
        return _ok(render.user_json(world, user), 201)

    @bp.patch("/users/<user_id>")
    async def patch_user(user_id: str) -> Response:
        user = world.user(int(user_id) if user_id.isdigit() else -1)
        permissions = _int(await _body(), "permissions", 0, 2**20, required=True)
        user.permissions = permissions or 0
        user.updated_at = world.now()
        return _ok(render.user_json(world, user))

    @bp.put("/users/<user_id>/quota")
    async def quota(user_id: str) -> Response:
        body = await _body()
        user = ctl.set_quota(
            int(user_id) if user_id.isdigit() else -1,
            movie_limit=_int(body, "movieQuotaLimit", 0, 10_000),
            movie_days=_int(body, "movieQuotaDays", 1, 3650),
            tv_limit=_int(body, "tvQuotaLimit", 0, 10_000),
            tv_days=_int(body, "tvQuotaDays", 1, 3650),
        )
        return _ok(render.user_json(world, user))

    @bp.post("/slow")
    async def slow() -> Response:
        ctl.slow(_int(await _body(), "ms", 0, 600_000, required=True) or 0)
        return _ok({"faults": [r.describe() for r in world.faults.rules]})

    @bp.post("/fail")
    async def fail() -> Response:
        body = await _body()
        ctl.fail(
            _int(body, "status", 400, 599) or 500,
            _int(body, "times", 1, 10**9) or 1,
            garbage=bool(body.get("garbage")),
            retry_after=_int(body, "retryAfter", 0, 86_400) or 1,
        )
        return _ok({"faults": [r.describe() for r in world.faults.rules]})

    @bp.post("/down")
    async def down() -> Response:
        body = await _body()
        mode = str(body.get("mode", "503"))
        if mode == "refuse":
            seconds = body.get("seconds", 5)
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, (int, float))
                or not 0 < seconds <= 3600
            ):
                raise BadRequest("seconds must be between 0 and 3600")
            if ctl.refuse_hook is None:
                raise BadRequest("refuse needs a simulator served over HTTP")
            asyncio.get_running_loop().create_task(ctl.refuse(float(seconds)))
            return _ok({"down": "refuse", "seconds": seconds}, 202)
        if not mode.isdigit() or not 500 <= int(mode) <= 599:
            raise BadRequest("mode must be 'refuse' or a 5xx status such as '503'")
        ctl.down(int(mode))
        return _ok({"down": int(mode)})

    @bp.post("/up")
    async def up() -> Response:
        ctl.up()
        return _ok({"down": None})

    @bp.get("/faults")
    async def faults() -> Response:
        return _ok([r.describe() for r in world.faults.rules])

    @bp.post("/faults")
    async def add_fault() -> Response:
        rule = world.faults.rule_from_json(await _body())
        return _ok(rule.describe(), 201)

    @bp.delete("/faults")
    async def clear_faults() -> Response:
        ctl.clear_faults()
        return _ok([])

    @bp.delete("/faults/<int:rule_id>")
    async def drop_fault(rule_id: int) -> Response:
        if not world.faults.remove(rule_id):
            raise WorldError(f"no fault rule {rule_id}")
        return _ok([r.describe() for r in world.faults.rules])

    @bp.get("/webhooks")
    async def webhooks() -> Response:
        return _ok([d.to_json() for d in world.notifier.deliveries])

    return bp
