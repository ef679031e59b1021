"""The plex.tv v2 routes: ``/api/v2/pins``, ``/api/v2/user`` and ``/api/v2/resources``.

Quirks kept from plex.tv: every v2 call needs ``X-Plex-Client-Identifier`` (header or query;
400 without); ``POST /pins`` answers **201**; a PIN's ``authToken`` is ``null`` until an
account approves it and an expired PIN is a 404; a missing or unknown token is a 401; errors
are ``{"errors": [{"code", "message", "status"}]}``. Answers are XML unless the client asks
for JSON (``Accept: application/json``), as on PMS.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from medianest_plex.simulator.accounts import Account, Role
from medianest_plex.simulator.errors import WorldError
from medianest_plex.simulator.pins import iso
from medianest_plex.simulator.servers import SimServer
from medianest_plex.simulator.web import plex_param, plextv_body, plextv_error
from medianest_plex.simulator.world import PlexWorld

CLIENT_ID_MISSING = (400, 1000, "X-Plex-Client-Identifier is missing")
NOT_AUTHENTICATED = (401, 1001, "User could not be authenticated")
PIN_NOT_FOUND = (404, 1020, "Code not found or expired")
_TRUE = ("1", "true", "yes", "on")
_BOOL_VALUES = ("", "0", "1", "true", "false", "yes", "no", "on", "off")


def user_json(account: Account, world: PlexWorld) -> dict[str, Any]:
    """The ``/api/v2/user`` body for ``account``."""
    owner = world.owner
    managed = account.role == Role.MANAGED
    in_home = account.role in (Role.OWNER, Role.MANAGED)
    subscribed = account.role == Role.OWNER
    subscription: dict[str, Any] = {
        "active": subscribed,
        "subscribedAt": iso(owner.joined_at) if subscribed else None,
        "status": "Active" if subscribed else "Inactive",
        "paymentService": "braintree" if subscribed else None,
        "plan": "lifetime" if subscribed else None,
        "features": [],
    }
    return {
        "id": account.id,
        "uuid": account.uuid,
        "username": account.username,
        "title": account.title,
        "email": account.email,
        "friendlyName": account.friendly_name,
        "locale": None,
        "confirmed": not managed,
        "joinedAt": account.joined_at,
        "emailOnlyAuth": False,
        "hasPassword": not managed,
        "protected": False,
        "thumb": account.thumb,
        "authToken": account.token,
        "mailingListStatus": "active" if not managed else "unsubscribed",
        "mailingListActive": False,
        "scrobbleTypes": "",
        "country": "US",
        "subscription": subscription,
        "subscriptions": [subscription],
        "restricted": account.restricted,
        "anonymous": None,
        "home": in_home,
        "guest": False,
        "homeSize": 2 if in_home else 1,
        "homeAdmin": account.home_admin,
        "maxHomeSize": 15,
        "rememberExpiresAt": world.now() + 14 * 86400,
        "profile": {
            "autoSelectAudio": True,
            "defaultAudioLanguage": "en",
            "defaultSubtitleLanguage": "en",
            "autoSelectSubtitle": 0,
            "defaultSubtitleAccessibility": 0,
            "defaultSubtitleForced": 0,
            "watchedIndicator": 1,
            "mediaReviewsVisibility": 0,
        },
        "entitlements": [],
        "roles": [],
        "services": [],
        "adsConsent": None,
        "adsConsentSetAt": None,
        "adsConsentReminderAt": None,
        "experimentalFeatures": False,
        "twoFactorEnabled": False,
        "backupCodesCreated": False,
        "attributionPartner": None,
    }


def _connections(server: SimServer) -> list[dict[str, Any]]:
    if server.uri is None:
        return []
    scheme, rest = server.uri.split("://", 1)
    host, _, port = rest.rpartition(":")
    return [
        {
            "protocol": scheme,
            "address": host.strip("[]"),
            "port": int(port),
            "uri": server.uri,
            "local": True,
            "relay": False,
            "IPv6": ":" in host,
        }
    ]


def resources_json(account: Account, world: PlexWorld) -> list[dict[str, Any]]:
    """The ``/api/v2/resources`` body: servers ``account`` can reach (and, for the owner,
    their Plex Web player, as plex.tv lists clients too)."""
    owner = world.owner
    out: list[dict[str, Any]] = []
    for server in world.servers:
        share = server.shares.get(account.key)
        if share is None:
            continue
        owned = account.role == Role.OWNER
        out.append(
            {
                "name": server.name,
                "product": "Plex Media Server",
                "productVersion": server.version,
                "platform": "Linux",
                "platformVersion": "6.1.0-21-amd64",
                "device": "PC",
                "clientIdentifier": server.machine_identifier,
                "createdAt": iso(server.created_at),
                "lastSeenAt": iso(world.now()),
                "provides": "server",
                "ownerId": None if owned else owner.id,
                "sourceTitle": None if owned else owner.title,
                "publicAddress": "203.0.113.10",
                "accessToken": share.token,
                "owned": owned,
                "home": account.role == Role.MANAGED,
                "synced": False,
                "relay": True,
                "presence": True,
                "httpsRequired": False,
                "publicAddressMatches": True,
                "dnsRebindingProtection": False,
                "natLoopbackSupported": False,
                "connections": _connections(server),
            }
        )
    if account.role == Role.OWNER:
        out.append(
            {
                "name": "Chrome",
                "product": "Plex Web",
                "productVersion": "4.132.0",
                "platform": "Chrome",
                "platformVersion": "126.0",
                "device": "Linux",
                "clientIdentifier": "k7m2p9q4r1s8t5v3",
                "createdAt": iso(owner.joined_at),
                "lastSeenAt": iso(world.now()),
                "provides": "client,player",
                "ownerId": None,
                "sourceTitle": None,
                "publicAddress": "203.0.113.25",
                "accessToken": owner.token,
                "owned": True,
                "home": False,
                "synced": False,
                "relay": False,
                "presence": False,
                "httpsRequired": False,
                "publicAddressMatches": True,
                "dnsRebindingProtection": False,
                "natLoopbackSupported": False,
                "connections": [],
            }
        )
    return out


def build_plextv_blueprint(world: PlexWorld) -> Blueprint:
    """The plex.tv v2 routes over ``world``."""
    bp = Blueprint("plextv", __name__)

    def client_id() -> str | None:
        return plex_param(request, "X-Plex-Client-Identifier")

    def fail(error: tuple[int, int, str]) -> Response:
        return plextv_error(request, *error)

    def bool_flag(name: str) -> bool | Response:
        raw = (request.args.get(name) or "").strip().lower()
        if raw not in _BOOL_VALUES:
            return fail((400, 1000, f"{name} must be 0/1 or true/false"))
        return raw in _TRUE

    @bp.post("/api/v2/pins")
    async def create_pin() -> Response:
        """Create a PIN (201); ``strong=true`` gives a long code with a longer lifetime."""
        cid = client_id()
        if cid is None:
            return fail(CLIENT_ID_MISSING)
        strong = bool_flag("strong")
        if isinstance(strong, Response):
            return strong
        product = plex_param(request, "X-Plex-Product") or ""
        pin = world.create_pin(client_identifier=cid, product=product, strong=strong)
        return plextv_body(request, pin.to_json(world.now()), status=201, root="pin")

    @bp.get("/api/v2/pins/<pin_id>")
    async def get_pin(pin_id: str) -> Response:
        """Poll a PIN: ``authToken`` is ``null`` until approved; 404 once expired."""
        cid = client_id()
        if cid is None:
            return fail(CLIENT_ID_MISSING)
        if not pin_id.isdigit() or len(pin_id) > 18:
            return fail((400, 1000, "pin id must be an integer"))
        try:
            pin = world.find_pin(pin_id=int(pin_id))
        except WorldError:
            return fail(PIN_NOT_FOUND)
        if pin.client_identifier != cid:
            return fail(PIN_NOT_FOUND)
        return plextv_body(request, pin.to_json(world.now()), root="pin")

    def signed_in() -> Account | Response:
        if client_id() is None:
            return fail(CLIENT_ID_MISSING)
        account = world.account_for_token(plex_param(request, "X-Plex-Token"))
        if account is None:
            return fail(NOT_AUTHENTICATED)
        return account

    @bp.get("/api/v2/user")
    async def get_user() -> Response:
        """The account the token belongs to."""
        account = signed_in()
        if isinstance(account, Response):
            return account
        return plextv_body(request, user_json(account, world), root="user")

    @bp.get("/api/v2/resources")
    async def get_resources() -> Response:
        """Servers (and players) the account can reach, each with its ``accessToken``."""
        account = signed_in()
        if isinstance(account, Response):
            return account
        for flag in ("includeHttps", "includeRelay", "includeIPv6"):
            parsed = bool_flag(flag)
            if isinstance(parsed, Response):
                return parsed
        return plextv_body(
            request, resources_json(account, world), root="resources", entry="resource"
        )

    return bp
