"""Local accounts: people who sign in with a username and password stored on the hub.

Core offers them as a ``credentials`` auth provider with the id ``local``, registered in every
hub's provider registry beside the plugins' ones (:func:`core_auth_providers`), so the sign-in
API serves them like any other method: ``POST /api/v1/auth/providers/local/sign-in`` with
``{"credentials": {"username": ..., "password": ...}}``.

The method is always offered, even before the first local account exists: listing it needs
no database query, does not tell anyone whether local accounts exist, and an admin created
with ``medianest users create-admin`` can sign in at once on every replica without a restart.

A local account is a :class:`~medianest.core.db.models.User` with an argon2id
``password_hash`` and an :class:`~medianest.core.db.models.ExternalIdentity` of provider
``local`` whose ``external_id`` is the user's id; only users with that identity can sign in
here (a Plex user called ``ann`` cannot be signed into with a password). Accounts are created
by :func:`create_account` (the ``create-admin`` command); there is no default account and no
default password.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from medianest.core.auth.passwords import (
    check_strength,
    hash_password_async,
    needs_rehash,
    verify_async,
)
from medianest.core.db.models import ExternalIdentity, User
from medianest.core.plugins import PluginInfo
from medianest.core.users import ROLE_ADMIN, USERNAME_MAX_LENGTH, Role
from medianest.sdk.access import USER_PERMISSIONS
from medianest.sdk.errors import AuthenticationError, ConflictError, InvalidInputError
from medianest.sdk.models import AuthChallenge, Identity
from medianest.sdk.providers import AuthProvider

PROVIDER_ID = "local"
WRONG_CREDENTIALS = "wrong username or password"
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
"""A local username: letters, digits, ``.``, ``_``, ``@`` and ``-``, starting with a letter
or digit, at most :data:`~medianest.core.users.USERNAME_MAX_LENGTH` characters."""


class LocalAccounts:
    """The ``local`` sign-in method (an :class:`~medianest.sdk.providers.AuthProvider`).

    The database of the hub must be current in the calling task (core makes it so per
    request).
    """

    id = PROVIDER_ID
    name = "Local account"
    flow: Literal["interactive", "credentials"] = "credentials"

    async def start(self, *, forward_url: str | None = None) -> AuthChallenge:
        """Never used: local accounts sign in with a password (the flow is ``credentials``)."""
        raise AuthenticationError("local accounts sign in with a username and password")

    async def poll(self, handle: str) -> Identity | None:
        """Never used: local accounts sign in with a password (the flow is ``credentials``)."""
        raise AuthenticationError("local accounts sign in with a username and password")

    async def authenticate(self, credentials: dict[str, str]) -> Identity:
        """The local account ``credentials["username"]`` when the password matches.

        An unknown username, an account that is not local and a wrong password are refused
        alike and take as long. A hash made with weaker parameters than today's is replaced
        once the password is known good.

        :raises AuthenticationError: ``wrong username or password``.
        """
        username = credentials.get("username", "").strip()
        password = credentials.get("password", "")
        user = None
        if username and password and len(username) <= USERNAME_MAX_LENGTH:
            user = await User.filter(username=username, identities__provider=PROVIDER_ID).first()
        stored = user.password_hash if user is not None else None
        matches = await verify_async(stored, password)
        if user is None or stored is None or not matches:
            raise AuthenticationError(WRONG_CREDENTIALS)
        if needs_rehash(stored):
            user.password_hash = await hash_password_async(password)
            await user.save(update_fields=["password_hash"])
        return Identity(
            provider=PROVIDER_ID,
            external_id=str(user.id),
            username=user.username,
            email=user.email,
            display_name=user.display_name,
            avatar_url=user.avatar_url,
            is_admin=user.role == ROLE_ADMIN,
        )


def core_auth_providers() -> list[tuple[PluginInfo, AuthProvider]]:
    """The sign-in methods core offers itself, as the registry takes them from plugins.

    They are owned by a :class:`PluginInfo` keyed like their ids (``local``), so provider id
    rules hold and a plugin registering the same id fails boot naming both.
    """
    try:
        core_version: str | None = version("medianest")
    except PackageNotFoundError:
        core_version = None
    info = PluginInfo(
        key=PROVIDER_ID, distribution="medianest", version=core_version, bundled=True, enabled=True
    )
    return [(info, LocalAccounts())]


def valid_username(username: str) -> str:
    """``username`` without surrounding spaces, when it suits a local account.

    :raises InvalidInputError: empty, too long, or with characters outside
        :data:`USERNAME_PATTERN` (field ``username``).
    """
    name = username.strip()
    if not name:
        raise InvalidInputError("the username must not be empty", field="username")
    if len(name) > USERNAME_MAX_LENGTH:
        raise InvalidInputError(
            f"the username must be at most {USERNAME_MAX_LENGTH} characters long",
            field="username",
        )
    if not USERNAME_PATTERN.match(name):
        raise InvalidInputError(
            "the username may hold letters, digits, '.', '_', '@' and '-', and must start "
            "with a letter or a digit",
            field="username",
        )
    return name


async def create_account(username: str, password: str, *, role: Role = ROLE_ADMIN) -> User:
    """Create a local account and return its user.

    The user gets the ``user`` role's basic permissions stored too, so a later demotion
    leaves a usable account. The database of the hub must be current in the calling task.

    :raises InvalidInputError: the username or password is not acceptable (see
        :func:`valid_username` and :func:`~medianest.core.auth.passwords.check_strength`).
    :raises ConflictError: a user with that username (in any letter case) exists already.
    """
    name = valid_username(username)
    check_strength(password, username=name)
    existing = await User.filter(username__iexact=name).first()
    if existing is not None:
        raise ConflictError(
            f"a user called {existing.username!r} exists already; choose another username"
        )
    password_hash = await hash_password_async(password)
    try:
        async with in_transaction() as connection:
            user = await User.create(
                username=name,
                role=role,
                permissions=sorted(str(p) for p in USER_PERMISSIONS),
                password_hash=password_hash,
                using_db=connection,
            )
            await ExternalIdentity.create(
                user=user, provider=PROVIDER_ID, external_id=str(user.id), using_db=connection
            )
    except IntegrityError as exc:
        raise ConflictError(
            f"a user called {name!r} exists already; choose another username"
        ) from exc
    return user
