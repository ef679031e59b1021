"""plex.tv accounts of a simulated world and the shares that give them server access.

Five accounts, always under the same keys:

``owner``     owns every server and is the Plex Home admin.
``friend1``   a friend with every library of every server shared.
``friend2``   a friend with only the Movies library of the first server shared.
``managed``   a Plex Home managed user (``restricted``, ``home``); no e-mail or password of
              its own, as plex.tv reports managed users; reaches the first server.
``stranger``  a plex.tv account with no access to any server.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from enum import StrEnum

from medianest_plex.simulator import data

ACCOUNT_KEYS: tuple[str, ...] = ("owner", "friend1", "friend2", "managed", "stranger")
_TOKEN_ALPHABET = string.ascii_letters + string.digits


class Role(StrEnum):
    """What an account is to the owner's servers."""

    OWNER = "owner"
    FRIEND = "friend"
    MANAGED = "managed"
    STRANGER = "stranger"


@dataclass
class Account:
    """A plex.tv account (what ``/api/v2/user`` describes)."""

    key: str
    role: Role
    id: int
    uuid: str
    username: str
    email: str
    title: str
    friendly_name: str
    thumb: str
    token: str
    joined_at: int

    @property
    def home(self) -> bool:
        """Member of the owner's Plex Home (owner and managed user)."""
        return self.role in (Role.OWNER, Role.MANAGED)

    @property
    def restricted(self) -> bool:
        """Managed users are restricted profiles."""
        return self.role == Role.MANAGED

    @property
    def home_admin(self) -> bool:
        """Only the owner administers the Home."""
        return self.role == Role.OWNER


def make_token(seed: int, *parts: int) -> str:
    """A 20-character token like plex.tv's, derived from ``seed`` and ``parts``."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=20).digest()
    return "".join(_TOKEN_ALPHABET[byte % len(_TOKEN_ALPHABET)] for byte in digest)


def build_accounts(seed: int, joined_before: int) -> dict[str, Account]:
    """Create the five accounts for ``seed`` (see the module docstring)."""
    roles = {
        "owner": Role.OWNER,
        "friend1": Role.FRIEND,
        "friend2": Role.FRIEND,
        "managed": Role.MANAGED,
        "stranger": Role.STRANGER,
    }
    accounts: dict[str, Account] = {}
    for number, key in enumerate(ACCOUNT_KEYS):
        ident = data.mix(seed, 21, number)
        first = data.pick(data.FIRST_NAMES, ident >> 3)
        last = data.pick(data.LAST_NAMES, ident >> 17)
        account_id = 1_000_000 + (ident % 90_000_000)
        uuid = data.hex_id(ident, 16)
        role = roles[key]
        if role == Role.MANAGED:
            username, email, title = first, "", first
        else:
            username = f"{first.lower()}{last.lower()}{ident % 97}"
            email = f"{username}@example.com"
            title = username
        accounts[key] = Account(
            key=key,
            role=role,
            id=account_id,
            uuid=uuid,
            username=username,
            email=email,
            title=title,
            friendly_name=f"{first} {last}" if role != Role.MANAGED else first,
            thumb=f"https://plex.tv/users/{uuid}/avatar?c={ident % 10_000_000_000}",
            token=make_token(seed, 1, number),
            joined_at=joined_before - (ident >> 40) % (5 * 365 * 86400),
        )
    return accounts


@dataclass(frozen=True)
class Share:
    """One account's access to one server: its access token and visible sections."""

    account_key: str
    token: str
    sections: frozenset[int] | None
    """Section keys the account may see; ``None`` means every section."""

    def can_see(self, section_key: int) -> bool:
        """Whether the section with ``section_key`` is shared with this account."""
        return self.sections is None or section_key in self.sections


def default_shares(
    seed: int, server_index: int, accounts: dict[str, Account], movies_section: int
) -> dict[str, Share]:
    """The shares of server ``server_index`` (see the module docstring for who gets what)."""
    owner = accounts["owner"]
    shares = {"owner": Share("owner", owner.token, None)}
    shares["friend1"] = Share("friend1", make_token(seed, 2, server_index, 1), None)
    if server_index == 0:
        shares["friend2"] = Share(
            "friend2", make_token(seed, 2, server_index, 2), frozenset({movies_section})
        )
        shares["managed"] = Share("managed", make_token(seed, 2, server_index, 3), None)
    return shares
