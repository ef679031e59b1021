"""From a stored user (and an API key's scopes) to the ``Principal`` requests run as."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from medianest.core.db.models import User
from medianest.sdk.access import USER_PERMISSIONS, Permission
from medianest.sdk.models import Principal

ALL_PERMISSIONS = frozenset(Permission)


def known_permissions(names: Iterable[str]) -> frozenset[Permission]:
    """The names that are permissions; anything else (a permission since removed) is dropped."""
    return frozenset(Permission(n) for n in names if n in Permission.__members__.values())


def effective_permissions(user: User) -> frozenset[Permission]:
    """What ``user`` may do: everything for an admin, the granted permissions otherwise
    (the default user permissions while none were granted)."""
    if user.role == "admin":
        return ALL_PERMISSIONS
    if user.permissions is None:
        return USER_PERMISSIONS
    return known_permissions(user.permissions)


def principal_for(
    user: User,
    *,
    scopes: Iterable[str] | None = None,
    identities: Mapping[str, str] | None = None,
) -> Principal:
    """The principal of ``user``, limited to ``scopes`` when acting through an API key, with
    their email and linked ``identities`` (provider → account id).

    An API key never holds more than its user: its scopes are intersected with the user's
    permissions, and an admin's key is an admin only if it is scoped to everything.
    """
    granted = effective_permissions(user)
    if scopes is not None:
        granted = granted & known_permissions(scopes)
    role = "admin" if user.role == "admin" and granted == ALL_PERMISSIONS else "user"
    return Principal(
        user_id=user.id,
        username=user.username,
        role=role,
        permissions=frozenset(str(p) for p in granted),
        email=user.email,
        identities=dict(identities or {}),
    )
