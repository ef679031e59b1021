"""Sign in with Plex: plex.tv's PIN flow, admitting people who can reach a configured server.

1. :meth:`PlexAuthProvider.start` creates a strong PIN on plex.tv and returns the Plex sign-in
   page URL. The handle packs the PIN id with the PIN's secret code (a strong PIN's code is
   25 random characters), so it cannot be guessed, needs no server-side state and works on
   any replica; :meth:`~PlexAuthProvider.poll` checks the code against plex.tv's own copy.
2. :meth:`PlexAuthProvider.poll` returns ``None`` until the person approves. Then it reads the
   account (``/api/v2/user``) and the servers it can reach (``/api/v2/resources``) and lets
   the person in only when one of them is a configured server (matched by
   ``machineIdentifier``). Owners of a configured server are admins. Plex Home managed users
   are let in like anyone else with access.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlencode

from medianest.sdk import (
    AuthChallenge,
    AuthenticationError,
    Identity,
    MediaNestError,
    NotFoundError,
    UpstreamAuthError,
    UpstreamDataError,
    UpstreamError,
    decode_cursor,
    encode_cursor,
    utcnow,
)
from medianest_plex.const import AUTH_PROVIDER_ID, PLUGIN_KEY
from medianest_plex.plextv import PlexTvClient
from medianest_plex.source import PlexMediaSource

EXPIRED = "the Plex sign-in expired; start again"
INVALID_HANDLE = "this Plex sign-in is not valid; start again"
NO_ACCESS = "your Plex account has no access to this hub's Plex server(s)"
REJECTED = "Plex did not accept this sign-in; start again"
POLL_INTERVAL_SECONDS = 1.0
_HANDLE_VERSION = 1


class PlexAuthProvider:
    """The ``plex`` sign-in method (interactive).

    :param plextv: the plex.tv client; :meth:`aclose` closes it.
    :param servers: returns the configured servers' sources, whose owners and guests may
        sign in (looked up when needed: the hub owns and closes the sources).
    :param auth_app_url: Plex's sign-in page.
    :param client_identifier: this hub's ``X-Plex-Client-Identifier``.
    :param product: the product name Plex shows on its sign-in page.
    """

    id = AUTH_PROVIDER_ID
    name = "Plex"
    flow: Literal["interactive", "credentials"] = "interactive"

    def __init__(
        self,
        *,
        plextv: PlexTvClient,
        servers: Callable[[], Sequence[PlexMediaSource]],
        auth_app_url: str,
        client_identifier: str,
        product: str,
    ) -> None:
        self.plextv = plextv
        self._servers = servers
        self.auth_app_url = auth_app_url
        self.client_identifier = client_identifier
        self.product = product

    @property
    def servers(self) -> list[PlexMediaSource]:
        """The configured servers' sources."""
        return list(self._servers())

    async def aclose(self) -> None:
        """Close the plex.tv client."""
        await self.plextv.aclose()

    async def start(self, *, forward_url: str | None = None) -> AuthChallenge:
        """Create a strong PIN and return the page where the person approves it.

        :raises UpstreamError: plex.tv could not be reached or answered nonsense.
        """
        pin = await self.plextv.create_pin()
        pin_id, code = pin.get("id"), pin.get("code")
        if isinstance(pin_id, bool) or not isinstance(pin_id, int) or not isinstance(code, str):
            raise self.plextv.data_error("answered POST /api/v2/pins without a PIN id and code")
        if not code:
            raise self.plextv.data_error("answered POST /api/v2/pins with an empty code")
        params = {
            "clientID": self.client_identifier,
            "code": code,
            "context[device][product]": self.product,
        }
        if forward_url:
            params["forwardUrl"] = forward_url
        return AuthChallenge(
            url=f"{self.auth_app_url}#?{urlencode(params, quote_via=quote)}",
            handle=encode_cursor({"v": _HANDLE_VERSION, "id": pin_id, "code": code}),
            expires_at=self._expiry(pin),
            poll_interval_seconds=POLL_INTERVAL_SECONDS,
        )

    async def poll(self, handle: str) -> Identity | None:
        """``None`` while the PIN waits for approval, then who signed in.

        :raises AuthenticationError: the sign-in expired, the handle is not one of ours, or
            the account cannot reach any configured server (the message says which).
        :raises UpstreamError: plex.tv or the configured servers could not be asked.
        """
        pin_id, code = _decode_handle(handle)
        try:
            pin = await self.plextv.get_pin(pin_id)
        except NotFoundError as exc:
            raise AuthenticationError(EXPIRED, plugin=PLUGIN_KEY) from exc
        known = pin.get("code")
        if not isinstance(known, str) or not hmac.compare_digest(known.encode(), code.encode()):
            raise AuthenticationError(INVALID_HANDLE, plugin=PLUGIN_KEY)
        token = pin.get("authToken")
        if not token:
            if self._expiry(pin) <= utcnow():
                raise AuthenticationError(EXPIRED, plugin=PLUGIN_KEY)
            return None
        if not isinstance(token, str):
            raise self.plextv.data_error(
                f"answered GET /api/v2/pins/{pin_id} with a token that is not text"
            )
        return await self.identify(token)

    async def authenticate(self, credentials: dict[str, str]) -> Identity:
        """Not offered: Plex sign-in is interactive.

        :raises AuthenticationError: always.
        """
        raise AuthenticationError(
            "Plex sign-in happens on plex.tv; use the Plex sign-in button", plugin=PLUGIN_KEY
        )

    async def identify(self, token: str) -> Identity:
        """Who ``token`` belongs to, if they may use this hub (see the module docstring).

        :raises AuthenticationError: plex.tv refused the token or the account has no access.
        :raises UpstreamError: plex.tv or the configured servers could not be asked.
        """
        try:
            user = await self.plextv.user(token)
            resources = await self.plextv.resources(token)
        except UpstreamAuthError as exc:
            raise AuthenticationError(REJECTED, plugin=PLUGIN_KEY) from exc
        account_id = user.get("id")
        if isinstance(account_id, bool) or not isinstance(account_id, (int, str)) or not account_id:
            raise self.plextv.data_error("answered GET /api/v2/user without an account id")
        machines, unreachable = await self._machine_identifiers()
        reachable: list[str] = []
        owned: list[str] = []
        for resource in resources:
            source_id = machines.get(str(resource.get("clientIdentifier")))
            if source_id is None or "server" not in str(resource.get("provides", "")):
                continue
            if source_id not in reachable:
                reachable.append(source_id)
            if resource.get("owned") is True and source_id not in owned:
                owned.append(source_id)
        if not reachable:
            if unreachable:
                names = ", ".join(unreachable)
                raise UpstreamError(
                    f"could not check Plex access: {names} did not answer", plugin=PLUGIN_KEY
                )
            raise AuthenticationError(NO_ACCESS, plugin=PLUGIN_KEY)
        return _identity(user, token, reachable=reachable, owned=owned)

    async def _machine_identifiers(self) -> tuple[dict[str, str], list[str]]:
        """``machineIdentifier → source id`` of servers that answered; ids of those that did not."""
        servers = self.servers
        results = await asyncio.gather(
            *(server.machine_identifier() for server in servers), return_exceptions=True
        )
        machines: dict[str, str] = {}
        unreachable: list[str] = []
        for server, result in zip(servers, results, strict=True):
            if isinstance(result, str):
                machines[result] = server.id
            elif isinstance(result, MediaNestError):
                unreachable.append(server.id)
            else:
                raise result
        return machines, unreachable

    def _expiry(self, pin: dict[str, Any]) -> datetime:
        expires_at = pin.get("expiresAt")
        if isinstance(expires_at, str):
            try:
                moment = datetime.fromisoformat(expires_at)
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is not None:
                return moment
        expires_in = pin.get("expiresIn")
        if isinstance(expires_in, int) and not isinstance(expires_in, bool):
            return utcnow() + timedelta(seconds=expires_in)
        raise self.plextv.data_error("answered with a PIN that has no expiry")


def _decode_handle(handle: str) -> tuple[int, str]:
    try:
        state = decode_cursor(handle, field="handle")
        pin_id, code = state["id"], state["code"]
    except (MediaNestError, KeyError) as exc:
        raise AuthenticationError(INVALID_HANDLE, plugin=PLUGIN_KEY) from exc
    if (
        state.get("v") != _HANDLE_VERSION
        or isinstance(pin_id, bool)
        or not isinstance(pin_id, int)
        or not isinstance(code, str)
        or not code
    ):
        raise AuthenticationError(INVALID_HANDLE, plugin=PLUGIN_KEY)
    return pin_id, code


def _text(user: dict[str, Any], key: str) -> str | None:
    value = user.get(key)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _identity(
    user: dict[str, Any], token: str, *, reachable: list[str], owned: list[str]
) -> Identity:
    account_id = str(user["id"])
    username = _text(user, "username") or _text(user, "title") or f"plex-{account_id}"
    try:
        return Identity(
            provider=AUTH_PROVIDER_ID,
            external_id=account_id,
            username=username,
            email=_text(user, "email"),
            display_name=_text(user, "friendlyName") or _text(user, "title"),
            avatar_url=_text(user, "thumb"),
            is_admin=bool(owned),
            credentials={"plex_token": token},
            attributes={
                "uuid": _text(user, "uuid"),
                "servers": reachable,
                "owned_servers": owned,
                "home": user.get("home") is True,
                "managed": user.get("restricted") is True,
            },
        )
    except ValueError as exc:
        raise UpstreamDataError(
            "plex.tv answered GET /api/v2/user with an account that does not fit",
            source="plex.tv",
            plugin=PLUGIN_KEY,
        ) from exc
