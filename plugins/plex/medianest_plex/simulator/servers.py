"""A simulated Plex Media Server: identity, library, shares and activity."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from medianest_plex.simulator import data
from medianest_plex.simulator.accounts import Account, Role, Share
from medianest_plex.simulator.activity import Activity
from medianest_plex.simulator.library import Library

SERVER_SLUGS: tuple[str, ...] = ("home", "cabin", "studio", "loft", "lake", "barn", "attic", "den")
PMS_VERSION = "1.41.3.9314-a0bfb8370"


@dataclass
class SimServer:
    """One Plex Media Server of the world.

    ``uri`` is the base URL it is served on (set by the runner once its port is known);
    ``shares`` maps account keys to the :class:`Share` that lets them in. The server
    accepts exactly the tokens of its shares.
    """

    index: int
    slug: str
    name: str
    machine_identifier: str
    version: str
    library: Library
    shares: dict[str, Share]
    created_at: int
    activity: Activity = field(default_factory=Activity)
    uri: str | None = None

    def share_for_token(self, token: str | None) -> Share | None:
        """The share whose token is ``token``, or ``None`` (the token is not accepted)."""
        if not token:
            return None
        for share in self.shares.values():
            if share.token == token:
                return share
        return None

    @property
    def tokens(self) -> dict[str, str]:
        """Account key → token this server accepts for that account."""
        return {key: share.token for key, share in self.shares.items()}

    def adopt(self, fresh: SimServer) -> None:
        """Take over the state of ``fresh`` (a regenerated server), keeping :attr:`uri`.

        Used by :meth:`PlexWorld.reset` so apps and callers holding this object see the
        regenerated library, shares and activity.
        """
        for spec in fields(self):
            if spec.name != "uri":
                setattr(self, spec.name, getattr(fresh, spec.name))

    @property
    def port(self) -> int | None:
        """The TCP port of :attr:`uri`, once served."""
        if self.uri is None:
            return None
        return int(self.uri.rsplit(":", 1)[1])


def local_account_id(account: Account) -> int:
    """The id PMS uses for ``account`` in sessions and history (owner = 1)."""
    return 1 if account.role == Role.OWNER else account.id


def server_identity(seed: int, index: int) -> tuple[str, str, str]:
    """``(slug, friendly name, machineIdentifier)`` of server ``index``."""
    slug = SERVER_SLUGS[index] if index < len(SERVER_SLUGS) else f"server{index + 1}"
    return slug, slug.title(), data.hex_id(data.mix(seed, 41, index), 40)
