"""API keys: per user, scoped by permission, shown once, stored as a digest, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from medianest.core.auth.principals import effective_permissions, known_permissions
from medianest.core.db.models import ApiKey, User
from medianest.sdk.errors import InvalidInputError

PREFIX = "mnk"
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per key (it is read on every request)."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: the stored row and the one time the full key is available."""

    row: ApiKey
    key: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue(
    user: User, *, name: str, permissions: list[str], expires_at: datetime | None = None
) -> IssuedKey:
    """Create a key for ``user`` limited to ``permissions`` (each of which the user holds).

    :raises InvalidInputError: an unknown permission, or one the user does not hold.
    """
    unknown = sorted(set(permissions) - {str(p) for p in known_permissions(permissions)})
    if unknown:
        raise InvalidInputError(f"unknown permissions: {', '.join(unknown)}", field="permissions")
    held = {str(p) for p in effective_permissions(user)}
    beyond = sorted(set(permissions) - held)
    if beyond:
        raise InvalidInputError(
            f"a key cannot hold permissions its user lacks: {', '.join(beyond)}",
            field="permissions",
        )
    public_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    row = await ApiKey.create(
        user=user,
        public_id=public_id,
        secret_digest=_digest(secret),
        name=name,
        permissions=sorted(set(permissions)),
        expires_at=expires_at,
    )
    return IssuedKey(row=row, key=f"{PREFIX}_{public_id}_{secret}")


def looks_like_key(token: str) -> bool:
    """True when ``token`` has the shape of one of our API keys."""
    return token.startswith(f"{PREFIX}_") and token.count("_") >= 2


async def verify(token: str) -> ApiKey | None:
    """The live key ``token`` names (with its user loaded), or ``None``.

    Unknown, malformed, revoked and expired keys, and keys of deactivated users, all give
    ``None``; the secret is compared in constant time.
    """
    if not looks_like_key(token):
        return None
    _, public_id, secret = token.split("_", 2)
    row = await ApiKey.get_or_none(public_id=public_id).prefetch_related("user")
    if row is None or not hmac.compare_digest(row.secret_digest, _digest(secret)):
        return None
    now = datetime.now(UTC)
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if not row.user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        await ApiKey.filter(id=row.id).update(last_used_at=now)
    return row


async def revoke(row: ApiKey) -> None:
    """Revoke ``row`` now; later requests with it are refused."""
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await row.save(update_fields=["revoked_at"])


async def revoke_all(user_id: int, *, using_db: BaseDBAsyncClient | None = None) -> list[ApiKey]:
    """Revoke every key of ``user_id`` not revoked yet (a deactivated user's keys end for
    good: reactivating the user does not bring them back); returns the keys it revoked.

    :param using_db: the transaction to write in, when the caller holds one.
    """
    rows = await ApiKey.filter(user_id=user_id, revoked_at__isnull=True).using_db(using_db)
    if rows:
        now = datetime.now(UTC)
        await (
            ApiKey.filter(id__in=[r.id for r in rows], revoked_at__isnull=True)
            .using_db(using_db)
            .update(revoked_at=now)
        )
        for row in rows:
            row.revoked_at = now
    return rows
