"""The ``/__sim`` control API: drive a running world from tests and demos over HTTP.

Every route maps to a :class:`~medianest_plex.simulator.world.PlexWorld` method; bodies are
JSON; errors answer ``{"error": "...", "status": N}`` (400 bad input, 404 unknown thing).
Fault rules never apply to these routes.

=======  ==========================================  ==========================================
method   path                                        body / effect
=======  ==========================================  ==========================================
GET      /__sim/world                                servers, URLs, tokens, accounts
POST     /__sim/reset                                back to the generated state
POST     /__sim/clock                                ``{"advance": seconds}``
GET      /__sim/pins                                 every PIN and its state
POST     /__sim/pins/{id}/approve                    ``{"account": "friend1"}``
POST     /__sim/servers/{server}/items               ``{"type": "movie", "title"?, "year"?}``,
                                                     ``{"type": "show", "seasons"?, "episodes"?}``
                                                     or ``{"type": "episode", "parent": rk}``
PATCH    /__sim/servers/{server}/items/{rk}          ``{"title"?, "summary"?, "year"?}``
DELETE   /__sim/servers/{server}/items/{rk}          removes the item and its children
POST     /__sim/servers/{server}/sessions            ``{"account", "ratingKey", "player"?,
                                                     "state"?}``
DELETE   /__sim/servers/{server}/sessions/{key}      ``?scrobble=0`` skips the history record
GET      /__sim/faults                               active rules
POST     /__sim/faults                               a rule (see :mod:`.faults`)
DELETE   /__sim/faults[/{id}]                        clear all (or one) and release hangs
GET      /__sim/webhooks                             registered URLs
POST     /__sim/webhooks                             ``{"url": "http://..."}``
DELETE   /__sim/webhooks                             unregister all (or ``?url=``)
POST     /__sim/webhooks/fire                        ``{"event", "server"?, "ratingKey"?,
                                                     "account"?, "player"?, "thumb"?}``
=======  ==========================================  ==========================================

``{server}`` is a slug (``home``, ``cabin``), a machineIdentifier or a 0-based index.
"""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response, request

from medianest_plex.simulator.errors import WorldError
from medianest_plex.simulator.items import Agent, Item
from medianest_plex.simulator.query import BadRequest
from medianest_plex.simulator.web import json_response, problem
from medianest_plex.simulator.world import PlexWorld

PREFIX = "/__sim"


async def read_json() -> dict[str, Any]:
    """The request body as a JSON object (an empty body counts as ``{}``)."""
    raw = await request.get_data(as_text=False)
    if isinstance(raw, str):
        raw = raw.encode()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the body must be UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise BadRequest(f"{name} must be a non-empty string of at most 500 characters")
    return value


def _number(
    body: dict[str, Any], name: str, low: int, high: int, default: int | None = None
) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name} must be an integer between {low} and {high}")
    return value


def item_json(item: Item) -> dict[str, Any]:
    """Short description of an item and its descendants."""
    out: dict[str, Any] = {
        "ratingKey": str(item.rating_key),
        "type": item.kind.label,
        "title": item.title,
        "addedAt": item.added_at,
        "updatedAt": item.updated_at,
    }
    if item.children is not None:
        out["children"] = [item_json(c) for c in item.children]
    return out


def build_control_blueprint(world: PlexWorld) -> Blueprint:
    """The ``/__sim`` routes over ``world``."""
    bp = Blueprint("simcontrol", __name__, url_prefix=PREFIX)

    @bp.errorhandler(WorldError)
    async def unknown_thing(error: WorldError) -> Response:
        return problem(404, str(error))

    @bp.errorhandler(ValueError)
    async def bad_value(error: ValueError) -> Response:
        return problem(400, str(error))

    @bp.get("/world")
    async def describe() -> Response:
        """Servers, URLs, tokens and accounts."""
        return json_response(world.describe())

    @bp.post("/reset")
    async def reset() -> Response:
        """Back to the generated state."""
        world.reset()
        return json_response(world.describe())

    @bp.post("/clock")
    async def clock() -> Response:
        """Move the clock forward."""
        seconds = _number(await read_json(), "advance", 0, 10 * 365 * 86400)
        if seconds is None:
            raise BadRequest("advance is required")
        return json_response({"now": world.advance_clock(seconds)})

    @bp.get("/pins")
    async def pins() -> Response:
        """Every PIN."""
        now = world.now()
        return json_response(
            [
                {**p.to_json(now), "account": p.account_key, "expired": p.expired(now)}
                for p in world.pins.values()
            ]
        )

    @bp.post("/pins/<pin_id>/approve")
    async def approve(pin_id: str) -> Response:
        """Approve a PIN as a named account."""
        body = await read_json()
        account = _text(body, "account", required=True) or ""
        if not pin_id.isdigit() or len(pin_id) > 18:
            raise BadRequest("pin id must be an integer")
        pin = world.approve_pin(account, pin_id=int(pin_id))
        return json_response(pin.to_json(world.now()))

    @bp.post("/servers/<server>/items")
    async def add_item(server: str) -> Response:
        """Add a movie, a show (with seasons and episodes) or an episode."""
        body = await read_json()
        kind = _text(body, "type", required=True)
        agent_name = _text(body, "agent") or "modern"
        try:
            agent = Agent[agent_name.upper()]
        except KeyError:
            raise BadRequest("agent must be modern, legacy or local") from None
        title = _text(body, "title")
        if kind == "movie":
            item = world.add_movie(
                server, title=title, year=_number(body, "year", 1870, 2100), agent=agent
            )
        elif kind == "show":
            item = world.add_show(
                server,
                title=title,
                agent=agent,
                seasons=_number(body, "seasons", 1, 50, 1) or 1,
                episodes=_number(body, "episodes", 1, 200, 3) or 3,
            )
        elif kind == "episode":
            parent = _number(body, "parent", 1, 2**53)
            if parent is None:
                raise BadRequest("parent (a show or season ratingKey) is required")
            item = world.add_episode(
                server, parent, title=title, season=_number(body, "season", 0, 1000)
            )
        else:
            raise BadRequest("type must be movie, show or episode")
        return json_response(item_json(item), 201)

    @bp.patch("/servers/<server>/items/<rating_key>")
    async def change_item(server: str, rating_key: str) -> Response:
        """Change an item's metadata (bumps updatedAt)."""
        body = await read_json()
        item = world.update_item(
            server,
            rating_key,
            title=_text(body, "title"),
            summary=_text(body, "summary"),
            year=_number(body, "year", 1870, 2100),
        )
        return json_response(item_json(item))

    @bp.delete("/servers/<server>/items/<rating_key>")
    async def remove_item(server: str, rating_key: str) -> Response:
        """Remove an item and its descendants."""
        removed = world.remove_item(server, rating_key)
        return json_response({"removed": [str(i.rating_key) for i in removed]})

    @bp.post("/servers/<server>/sessions")
    async def start_session(server: str) -> Response:
        """Start a playback."""
        body = await read_json()
        account = _text(body, "account", required=True) or ""
        rating_key = _number(body, "ratingKey", 1, 2**53)
        if rating_key is None:
            raise BadRequest("ratingKey is required")
        session = world.start_session(
            server,
            account,
            rating_key,
            player=_number(body, "player", 0, 100, 0) or 0,
            state=_text(body, "state") or "playing",
        )
        return json_response(
            {"sessionKey": str(session.session_key), "ratingKey": str(session.item.rating_key)}, 201
        )

    @bp.delete("/servers/<server>/sessions/<session_key>")
    async def stop_session(server: str, session_key: str) -> Response:
        """Stop a playback; records a history entry unless ``scrobble=0``."""
        if not session_key.isdigit() or len(session_key) > 18:
            raise BadRequest("session key must be an integer")
        scrobble = request.args.get("scrobble", "1") != "0"
        record = world.stop_session(server, int(session_key), scrobble=scrobble)
        return json_response({"historyId": record.history_id if record else None})

    @bp.get("/faults")
    async def faults() -> Response:
        """Active fault rules."""
        return json_response([r.describe() for r in world.faults.rules])

    @bp.post("/faults")
    async def add_fault() -> Response:
        """Add a fault rule."""
        rule = world.faults.rule_from_json(await read_json())
        return json_response(rule.describe(), 201)

    @bp.delete("/faults")
    async def clear_faults() -> Response:
        """Remove every rule and release hanging requests."""
        world.faults.clear()
        return json_response({"rules": 0})

    @bp.delete("/faults/<rule_id>")
    async def remove_fault(rule_id: str) -> Response:
        """Remove one rule."""
        if not rule_id.isdigit() or len(rule_id) > 18 or not world.faults.remove(int(rule_id)):
            return json_response({"error": f"no fault rule {rule_id[:20]}", "status": 404}, 404)
        return json_response({"rules": len(world.faults.rules)})

    @bp.get("/webhooks")
    async def webhooks() -> Response:
        """Registered webhook URLs."""
        return json_response({"urls": list(world.webhooks.urls)})

    @bp.post("/webhooks")
    async def add_webhook() -> Response:
        """Register a webhook URL."""
        url = _text(await read_json(), "url", required=True) or ""
        try:
            world.webhooks.add(url)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return json_response({"urls": list(world.webhooks.urls)}, 201)

    @bp.delete("/webhooks")
    async def clear_webhooks() -> Response:
        """Unregister one URL (``?url=``) or all."""
        url = request.args.get("url")
        if url:
            world.webhooks.remove(url)
        else:
            world.webhooks.clear()
        return json_response({"urls": list(world.webhooks.urls)})

    @bp.post("/webhooks/fire")
    async def fire() -> Response:
        """Send an event to every registered URL; answers the delivery outcomes."""
        body = await read_json()
        event = _text(body, "event", required=True) or ""
        server = body.get("server", 0)
        if not isinstance(server, (str, int)) or isinstance(server, bool):
            raise BadRequest("server must be a slug, machineIdentifier or index")
        rating_key = _number(body, "ratingKey", 1, 2**53)
        thumb = body.get("thumb", False)
        if not isinstance(thumb, bool):
            raise BadRequest("thumb must be true or false")
        try:
            deliveries = await world.fire_webhook(
                event,
                server=server,
                rating_key=rating_key,
                account=_text(body, "account") or "owner",
                player=_number(body, "player", 0, 100, 0) or 0,
                thumb=thumb,
            )
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return json_response({"deliveries": [d.to_json() for d in deliveries]})

    return bp
