"""People who signed in, and the external identities that let them in.

:func:`complete_sign_in` is the one way an :class:`~medianest.sdk.models.Identity` vouched for
by an auth provider becomes a :class:`~medianest.core.db.models.User`. Callers (the sign-in
API) hand it the identity once the provider has let the person in; it returns the user, to
which a later layer can attach a session.

Rules:

- one user per ``(provider, external_id)``; the first sign-in creates it, as ``admin`` when
  the provider vouches the person owns what the hub fronts (``identity.is_admin``), else as
  ``user``. Later sign-ins never change the role.
- every sign-in refreshes the profile (display name, e-mail, avatar; the username when the
  provider's is free on this hub) and ``last_sign_in_at``, and replaces the stored
  credentials, encrypted with the hub's :class:`~medianest.core.secrets.SecretBox`.
- a deactivated user is refused, and nothing about them is changed.

The database of the hub must be current in the calling task (core makes it so per request).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from medianest.core.db.models import ExternalIdentity, User
from medianest.core.secrets import SecretBox, UndecryptableSecretError
from medianest.sdk.errors import AuthenticationError
from medianest.sdk.models import Identity

log = structlog.get_logger(__name__)

Role = Literal["admin", "user"]
ROLE_ADMIN: Role = "admin"
ROLE_USER: Role = "user"

DEACTIVATED = "your account on this hub has been deactivated; ask one of its admins"
USERNAME_MAX_LENGTH = 150
_ATTEMPTS = 3


async def complete_sign_in(
    identity: Identity, box: SecretBox, *, now: datetime | None = None
) -> User:
    """Find or create the user behind ``identity`` and record this sign-in (see module rules).

    :param box: encrypts ``identity.credentials`` for storage.
    :param now: the time of the sign-in (default: now, UTC).
    :raises AuthenticationError: the user exists but has been deactivated.
    """
    moment = now or datetime.now(UTC)
    sealed = box.encrypt(json.dumps(identity.credentials)) if identity.credentials else None
    attributes = _json_safe(identity.attributes)
    attempt = 1
    while True:
        try:
            user, created = await _record(identity, sealed, attributes, moment)
            break
        except IntegrityError:
            # Another sign-in created the same identity or took the same username meanwhile.
            if attempt >= _ATTEMPTS:
                raise
            attempt += 1
    log.info(
        "signed in", user_id=user.id, provider=identity.provider, new_user=created, role=user.role
    )
    return user


def stored_credentials(link: ExternalIdentity, box: SecretBox) -> dict[str, str]:
    """The credentials last stored for ``link`` (``{}`` when the provider gave none).

    :raises UndecryptableSecretError: they were encrypted under another secret key.
    """
    if not link.credentials_encrypted:
        return {}
    try:
        credentials = json.loads(box.decrypt(link.credentials_encrypted))
    except ValueError as exc:
        raise UndecryptableSecretError(
            f"the stored credentials of identity {link.id} are not valid JSON once decrypted"
        ) from exc
    if not isinstance(credentials, dict):
        raise UndecryptableSecretError(
            f"the stored credentials of identity {link.id} are not a JSON object"
        )
    return {str(k): str(v) for k, v in credentials.items()}


async def _record(
    identity: Identity, sealed: str | None, attributes: dict[str, Any], moment: datetime
) -> tuple[User, bool]:
    async with in_transaction() as connection:
        link = (
            await ExternalIdentity.filter(
                provider=identity.provider, external_id=identity.external_id
            )
            .using_db(connection)
            .select_related("user")
            .first()
        )
        if link is None:
            user = await User.create(
                username=await _free_username(identity.username, connection),
                **_profile(identity),
                role=ROLE_ADMIN if identity.is_admin else ROLE_USER,
                last_sign_in_at=moment,
                using_db=connection,
            )
            await ExternalIdentity.create(
                user=user,
                provider=identity.provider,
                external_id=identity.external_id,
                credentials_encrypted=sealed,
                attributes=attributes,
                using_db=connection,
            )
            return user, True
        user = link.user
        if not user.is_active:
            raise AuthenticationError(DEACTIVATED)
        wanted = _clip(identity.username)
        if wanted != user.username and not await _taken(wanted, connection, besides=user.id):
            user.username = wanted
        for name, value in _profile(identity).items():
            setattr(user, name, value)
        user.last_sign_in_at = moment
        await user.save(using_db=connection, update_fields=[*_PROFILE_FIELDS, "last_sign_in_at"])
        link.credentials_encrypted = sealed
        link.attributes = attributes
        await link.save(
            using_db=connection,
            update_fields=["credentials_encrypted", "attributes", "updated_at"],
        )
        return user, False


async def _free_username(wanted: str, connection: Any) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``... whichever no user has yet."""
    base = _clip(wanted)
    candidate, number = base, 1
    while await _taken(candidate, connection):
        number += 1
        suffix = f"-{number}"
        candidate = base[: USERNAME_MAX_LENGTH - len(suffix)] + suffix
    return candidate


async def _taken(username: str, connection: Any, *, besides: int | None = None) -> bool:
    query = User.filter(username=username).using_db(connection)
    if besides is not None:
        query = query.exclude(id=besides)
    return await query.exists()


_PROFILE_FIELDS = ("username", "display_name", "email", "avatar_url")


def _profile(identity: Identity) -> dict[str, str | None]:
    """Display name, e-mail and avatar as the user table holds them.

    Values too long for their column are cut (the name) or dropped (an e-mail or URL cut
    short would be wrong).
    """
    name = identity.display_name.strip()[:200] if identity.display_name else None
    email = identity.email if identity.email and len(identity.email) <= 320 else None
    avatar = (
        identity.avatar_url if identity.avatar_url and len(identity.avatar_url) <= 2000 else None
    )
    return {"display_name": name or None, "email": email, "avatar_url": avatar}


def _clip(username: str) -> str:
    return username.strip()[:USERNAME_MAX_LENGTH] or "user"


def _json_safe(attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` as plain JSON values (anything else becomes its text)."""
    plain: dict[str, Any] = json.loads(json.dumps(attributes, default=str))
    return plain
