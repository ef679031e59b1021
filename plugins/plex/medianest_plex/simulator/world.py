"""``PlexWorld``: plex.tv accounts, PINs and Plex Media Servers, deterministic from a seed.

The world is the single source of truth behind every simulated app. Tests may change it
directly through its methods (``add_movie``, ``update_item``, ``approve_pin``, ...) or over
HTTP through the ``/__sim`` control API, which calls the same methods.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from medianest_plex.simulator import data
from medianest_plex.simulator.accounts import Account, build_accounts, default_shares
from medianest_plex.simulator.activity import (
    PLAYERS,
    history_size,
    pick_views,
    record_view,
)
from medianest_plex.simulator.editing import LibraryEditing, PlaybackControl, open_session
from medianest_plex.simulator.errors import WorldError
from medianest_plex.simulator.faults import FaultInjector
from medianest_plex.simulator.generate import (
    ANCHOR,
    MOVIES_SECTION,
    SHOWS_SECTION,
    Catalogue,
    generate_library,
)
from medianest_plex.simulator.items import Item, Kind
from medianest_plex.simulator.library import release_date
from medianest_plex.simulator.pins import FIRST_PIN_ID, Pin, new_pin
from medianest_plex.simulator.servers import (
    PMS_VERSION,
    SimServer,
    local_account_id,
    server_identity,
)
from medianest_plex.simulator.webhooks import WebhookDelivery, WebhookHub


class PlexWorld(LibraryEditing, PlaybackControl):
    """Accounts, PINs and servers of one simulated Plex universe.

    :param seed: everything generated (accounts, tokens, ids, libraries, history) follows
        from it; the same seed gives the same world.
    :param items: leaves (movies + episodes) per server, split 40% movies / 60% episodes.
    :param servers: number of Plex Media Servers, all owned by ``owner``.
    :param clock: seconds since the epoch; defaults to :func:`time.time`. PIN expiry and
        the ``addedAt``/``updatedAt`` of changes made after start use it, shifted by
        :meth:`advance_clock`.
    :param pin_lifetime: overrides the lifetime in seconds of new PINs.
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        items: int = 1000,
        servers: int = 1,
        clock: Callable[[], float] | None = None,
        pin_lifetime: int | None = None,
        anchor: int = ANCHOR,
    ) -> None:
        if servers < 1:
            raise ValueError("a world needs at least one server")
        if items < 0:
            raise ValueError("items must not be negative")
        self.seed = seed
        self.items_per_server = items
        self.server_count = servers
        self.anchor = anchor
        self.pin_lifetime = pin_lifetime
        self._clock = clock or time.time
        self._offset = 0
        self.faults = FaultInjector()
        self.webhooks = WebhookHub()
        self.accounts: dict[str, Account] = {}
        self.servers: list[SimServer] = []
        self.pins: dict[int, Pin] = {}
        self._next_pin_id = FIRST_PIN_ID
        self._build()

    # -- construction ----------------------------------------------------------------------

    def _build(self) -> None:
        previous = self.servers
        self.accounts = build_accounts(self.seed, self.anchor)
        self.servers = []
        catalogue: Catalogue | None = None
        for index in range(self.server_count):
            library, own = generate_library(
                seed=self.seed,
                server_index=index,
                items=self.items_per_server,
                catalogue=catalogue,
                anchor=self.anchor,
            )
            catalogue = catalogue or own
            slug, name, machine_id = server_identity(self.seed, index)
            server = SimServer(
                index=index,
                slug=slug,
                name=name,
                machine_identifier=machine_id,
                version=PMS_VERSION,
                library=library,
                shares=default_shares(self.seed, index, self.accounts, MOVIES_SECTION),
                created_at=self.anchor - 9 * 365 * 86400,
            )
            self._seed_activity(server)
            if index < len(previous):
                previous[index].adopt(server)
                server = previous[index]
            self.servers.append(server)
        self.pins = {}
        self._next_pin_id = FIRST_PIN_ID

    def _seed_activity(self, server: SimServer) -> None:
        activity = server.activity
        leaves = server.library.leaves()
        viewers = [
            (local_account_id(self.accounts[key]), share.sections)
            for key, share in server.shares.items()
        ]
        views = pick_views(
            self.seed,
            server.index,
            leaves,
            history_size(self.items_per_server),
            viewers,
            self.anchor,
        )
        for item, viewed_at, local_id, device in views:
            activity.history.append(
                record_view(
                    activity.next_history_id, item, viewed_at, local_id, device, release_date(item)
                )
            )
            activity.next_history_id += 1
        movies = server.library.of_kind(MOVIES_SECTION, Kind.MOVIE)
        episodes = server.library.of_kind(SHOWS_SECTION, Kind.EPISODE)
        plan = [("friend1", episodes, 0, "playing"), ("owner", movies, 1, "paused")]
        for account_key, pool, player, state in plan[: 2 if server.index == 0 else 1]:
            if pool and account_key in server.shares:
                item = pool[data.mix(self.seed, 71, server.index, player) % len(pool)]
                open_session(server, self.accounts[account_key], item, player, state, self.anchor)

    def reset(self) -> None:
        """Return to the freshly generated state: library, PINs, sessions, history, clock,
        faults and webhook targets. Server objects (and their served URLs) stay the same."""
        self.faults.clear()
        self.webhooks.clear()
        self._offset = 0
        self._build()

    # -- time ------------------------------------------------------------------------------

    def now(self) -> int:
        """The world's current time (epoch seconds), never before the generated history."""
        return max(int(self._clock()) + self._offset, self.anchor + 1)

    def advance_clock(self, seconds: int) -> int:
        """Move the world's clock forward by ``seconds``; returns the new :meth:`now`."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
        return self.now()

    # -- lookups ---------------------------------------------------------------------------

    @property
    def owner(self) -> Account:
        """The account that owns every server."""
        return self.accounts["owner"]

    def account(self, key: str) -> Account:
        """The account named ``key`` (``owner``, ``friend1``, ...); :class:`WorldError` if none."""
        try:
            return self.accounts[key]
        except KeyError:
            names = ", ".join(self.accounts)
            raise WorldError(f"unknown account {key!r}; accounts are {names}") from None

    def account_for_token(self, token: str | None) -> Account | None:
        """The account whose plex.tv token is ``token``."""
        if not token:
            return None
        return next((a for a in self.accounts.values() if a.token == token), None)

    def server(self, ref: SimServer | str | int) -> SimServer:
        """A server by object, slug, machineIdentifier, name or 0-based index."""
        if isinstance(ref, SimServer):
            return ref
        for server in self.servers:
            if ref in (
                server.slug,
                server.machine_identifier,
                server.name,
                server.index,
                str(server.index),
            ):
                return server
        raise WorldError(f"unknown server {ref!r}")

    def item(self, server: SimServer | str | int, rating_key: int | str) -> Item:
        """An item by ratingKey on ``server``; :class:`WorldError` if it does not exist."""
        srv = self.server(server)
        try:
            found = srv.library.get(int(rating_key))
        except (TypeError, ValueError):
            found = None
        if found is None:
            raise WorldError(f"server {srv.slug} has no item {rating_key!r}")
        return found

    # -- PINs ------------------------------------------------------------------------------

    def create_pin(self, *, client_identifier: str, product: str = "", strong: bool = False) -> Pin:
        """Create a PIN for ``client_identifier`` (as ``POST /api/v2/pins`` does)."""
        pin = new_pin(
            self.seed,
            self._next_pin_id,
            client_identifier=client_identifier,
            product=product,
            strong=strong,
            now=self.now(),
            lifetime=self.pin_lifetime,
        )
        self._next_pin_id += 1
        self.pins[pin.id] = pin
        return pin

    def find_pin(self, *, pin_id: int | None = None, code: str | None = None) -> Pin:
        """A live PIN by id or code; :class:`WorldError` if unknown or expired."""
        now = self.now()
        if pin_id is not None:
            pin = self.pins.get(pin_id)
        else:
            pin = next(
                (
                    p
                    for p in reversed(list(self.pins.values()))
                    if p.code == code and not p.expired(now)
                ),
                None,
            )
        if pin is None or pin.expired(now):
            raise WorldError("Code not found or expired")
        return pin

    def approve_pin(
        self,
        account_key: str,
        *,
        pin_id: int | None = None,
        code: str | None = None,
        client_identifier: str | None = None,
    ) -> Pin:
        """Let ``account_key`` claim a PIN (as the approval page does); returns the PIN.

        Raises :class:`WorldError` for an unknown or expired PIN, an unknown account, or a
        ``client_identifier`` that is not the one the PIN was made for.
        """
        account = self.account(account_key)
        pin = self.find_pin(pin_id=pin_id, code=code)
        if client_identifier is not None and client_identifier != pin.client_identifier:
            raise WorldError("the PIN was created by a different client")
        pin.auth_token = account.token
        pin.account_key = account.key
        return pin

    # -- webhooks --------------------------------------------------------------------------

    async def fire_webhook(
        self,
        event: str,
        *,
        server: SimServer | str | int = 0,
        rating_key: int | str | None = None,
        account: str = "owner",
        player: int = 0,
        thumb: bool = False,
    ) -> list[WebhookDelivery]:
        """POST a Plex webhook (multipart, JSON ``payload`` field) to every registered URL.

        See :meth:`WebhookHub.fire` for the payload; returns one delivery per target.
        """
        srv = self.server(server)
        item = self.item(srv, rating_key) if rating_key is not None else None
        return await self.webhooks.fire(
            event,
            server=srv,
            account=self.account(account),
            item=item,
            player=PLAYERS[player % len(PLAYERS)],
            thumb=thumb,
        )

    # -- description -----------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """A JSON summary: servers (URLs, tokens, counts) and accounts (ids, tokens)."""
        servers = []
        for srv in self.servers:
            lib = srv.library
            servers.append(
                {
                    "slug": srv.slug,
                    "name": srv.name,
                    "machineIdentifier": srv.machine_identifier,
                    "version": srv.version,
                    "uri": srv.uri,
                    "tokens": srv.tokens,
                    "sections": {
                        str(s.key): {
                            "title": s.title,
                            "type": s.type_label,
                            "count": lib.count(s.key, s.type),
                        }
                        for s in lib.sections.values()
                    },
                    "counts": {
                        k.label: sum(lib.count(s.key, k) for s in lib.sections.values())
                        for k in Kind
                    },
                }
            )
        accounts = {
            key: {
                "id": a.id,
                "uuid": a.uuid,
                "username": a.username,
                "email": a.email,
                "title": a.title,
                "role": a.role.value,
                "token": a.token,
            }
            for key, a in self.accounts.items()
        }
        return {
            "seed": self.seed,
            "itemsPerServer": self.items_per_server,
            "now": self.now(),
            "servers": servers,
            "accounts": accounts,
            "webhooks": list(self.webhooks.urls),
        }
