"""Who a person is in Overseerr: the attribution directory.

Requests are made as the person who asks (``X-Api-User``), never as Overseerr's admin. A
person's Overseerr user is found by their Plex account id (``principal.identities["plex"]``,
Overseerr's ``plexId``) or, failing that, their email. The directory of Overseerr users is
read page by page from ``GET /user`` (as the admin, whose key may list users) and kept in the
hub's cache for a few minutes, so every replica shares one copy and a request costs no extra
call; a person missing from it triggers one fresh read at most every 30 seconds (someone just
imported into Overseerr is found at once). With ``create_missing_users`` a person still
missing gets an Overseerr user made from their email (``POST /user``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from medianest.sdk import Principal
from medianest.sdk.errors import AccountNotLinkedError, ConflictError
from medianest.sdk.services import Cache
from medianest_overseerr.client import OverseerrClient
from medianest_overseerr.const import (
    PLUGIN_KEY,
    USER_DIRECTORY_REFRESH_SECONDS,
    USER_DIRECTORY_TTL_SECONDS,
    USER_PAGE_SIZE,
)

MAX_USER_PAGES = 100
"""The directory reads at most this many pages of users (10,000 people)."""

Directory = dict[str, Any]
"""``{"plex": {plexId: userId}, "email": {email: userId}, "at": unix time}`` (JSON-able)."""


class LocalCache:
    """An in-process stand-in for the hub's cache, for a backend used without a hub."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, Any]] = {}

    async def get(self, key: str) -> Any | None:
        """The value, or ``None`` when missing or expired."""
        entry = self._values.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    async def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        self._values[key] = (time.monotonic() + ttl, value)

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._values.pop(key, None)


class UserDirectory:
    """Finds (and, when allowed, creates) people's Overseerr users for one instance.

    :param cache: returns the cache to keep the directory in (the hub's, shared by replicas).
    """

    def __init__(
        self,
        client: OverseerrClient,
        *,
        name: str,
        create_missing: bool,
        cache: Callable[[], Cache | LocalCache],
    ) -> None:
        self.client = client
        self.name = name
        self.create_missing = create_missing
        self._cache = cache
        self._key = f"{PLUGIN_KEY}:{name}:users"

    @property
    def service(self) -> str:
        """How messages name the instance: ``Overseerr 'home'``."""
        return f"Overseerr '{self.name}'"

    async def user_id(self, principal: Principal) -> int:
        """The Overseerr user id to act as for ``principal``.

        :raises AccountNotLinkedError: the person has no Overseerr user (and none may be made).
        :raises UpstreamError: Overseerr could not be asked.
        """
        found = await self.find(principal)
        if found is not None:
            return found
        if self.create_missing:
            return await self._create(principal)
        raise AccountNotLinkedError(
            f"{principal.username} has no account in {self.service}: no Overseerr user has "
            "their Plex account or email; ask an admin to import them into Overseerr",
            plugin=PLUGIN_KEY,
        )

    async def find(self, principal: Principal) -> int | None:
        """The person's Overseerr user id, or ``None`` when Overseerr has no such user."""
        directory = await self._directory(fresh=False)
        found = _match(directory, principal)
        if found is None and time.time() - float(directory.get("at", 0)) > (
            USER_DIRECTORY_REFRESH_SECONDS
        ):
            found = _match(await self._directory(fresh=True), principal)
        return found

    async def forget(self) -> None:
        """Drop the cached directory (the next lookup reads Overseerr again)."""
        await self._cache().delete(self._key)

    async def _directory(self, *, fresh: bool) -> Directory:
        cache = self._cache()
        if not fresh:
            cached = await cache.get(self._key)
            if isinstance(cached, dict):
                return cached
        directory = await self._read_users()
        await cache.set(self._key, directory, USER_DIRECTORY_TTL_SECONDS)
        return directory

    async def _read_users(self) -> Directory:
        plex: dict[str, int] = {}
        email: dict[str, int] = {}
        skip = 0
        for _ in range(MAX_USER_PAGES):
            body, _ = await self.client.call_json(
                "GET",
                "/user",
                query=[("take", USER_PAGE_SIZE), ("skip", skip), ("sort", "created")],
            )
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise self.client.data_error("answered GET /user without a list of results")
            for user in results:
                _add(user, plex, email)
            skip += len(results)
            total = _total(body)
            if len(results) < USER_PAGE_SIZE or (total is not None and skip >= total):
                break
        return {"plex": plex, "email": email, "at": time.time()}

    async def _create(self, principal: Principal) -> int:
        if not principal.email:
            raise AccountNotLinkedError(
                f"{principal.username} has no account in {self.service}, and no email address "
                "to create one with",
                plugin=PLUGIN_KEY,
            )
        body = {"email": principal.email, "username": principal.username}
        try:
            created, _ = await self.client.call_json("POST", "/user", json_body=body)
        except ConflictError:
            created = None  # made meanwhile (another replica): read the directory again
        await self.forget()
        user_id = _user_id(created) if created is not None else None
        if user_id is None:
            user_id = _match(await self._directory(fresh=True), principal)
        if user_id is None:
            raise self.client.data_error("answered POST /user without the new user's id")
        return user_id


def _user_id(user: Any) -> int | None:
    if not isinstance(user, dict):
        return None
    value = user.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _add(user: Any, plex: dict[str, int], email: dict[str, int]) -> None:
    user_id = _user_id(user)
    if user_id is None:
        return
    plex_id = user.get("plexId")
    if isinstance(plex_id, (int, str)) and not isinstance(plex_id, bool) and str(plex_id):
        plex.setdefault(str(plex_id), user_id)
    address = user.get("email")
    if isinstance(address, str) and "@" in address:
        email.setdefault(address.strip().lower(), user_id)


def _total(body: dict[str, Any]) -> int | None:
    info = body.get("pageInfo")
    total = info.get("results") if isinstance(info, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _match(directory: Directory, principal: Principal) -> int | None:
    plex_id = principal.identity("plex")
    if plex_id:
        found = directory.get("plex", {}).get(str(plex_id))
        if isinstance(found, int):
            return found
    if principal.email:
        found = directory.get("email", {}).get(principal.email.strip().lower())
        if isinstance(found, int):
            return found
    return None
