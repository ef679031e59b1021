"""Who may call an HTTP route: every route the hub serves declares it.

Decorate each view (core's and plugins' alike) with exactly one of :func:`public`,
:func:`signed_in` or :func:`requires`; the hub refuses to start while any route is undeclared
and enforces the declaration on every request: 401 without a valid sign-in, 403 naming the
missing permission.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, TypeVar

F = TypeVar("F", bound=Callable[..., object])

ACCESS_ATTRIBUTE = "__medianest_access__"


class Permission(StrEnum):
    """What a person (or an API key) may do. Admins hold every permission."""

    SEARCH = "search"
    """Search and browse the library."""
    REQUEST = "request"
    """Request missing media."""
    AUTO_APPROVE = "auto_approve"
    """Requests are approved without review."""
    MANAGE_REQUESTS = "manage_requests"
    """Approve, decline and delete anyone's requests."""
    MANAGE_USERS = "manage_users"
    """List users, change roles and permissions, deactivate, revoke sessions."""
    MANAGE_SETTINGS = "manage_settings"
    """Plugins and runtime flags."""
    RUN_SYNCS = "run_syncs"
    """Start library syncs."""
    EDIT_METADATA = "edit_metadata"
    """Correct media metadata (titles, years, external ids); corrections survive syncs."""
    VIEW_ANALYTICS = "view_analytics"
    """Library statistics, usage analytics and reports."""
    VIEW_AUDIT = "view_audit"
    """Read the audit log."""
    VIEW_METRICS = "view_metrics"
    """Scrape /metrics (give a monitoring system an API key with just this)."""


USER_PERMISSIONS = frozenset({Permission.SEARCH, Permission.REQUEST})
"""What a new ``user`` may do until an admin changes it."""


@dataclass(frozen=True, slots=True)
class Access:
    """A route's declared access: anyone, any signed-in caller, or a permission."""

    kind: Literal["public", "signed_in", "permission"]
    permission: Permission | None = None

    def describe(self) -> str:
        """``public``, ``signed in`` or ``permission: <name>``."""
        if self.kind == "permission":
            return f"permission: {self.permission}"
        return "signed in" if self.kind == "signed_in" else "public"


def _declare(view: F, access: Access) -> F:
    existing = getattr(view, ACCESS_ATTRIBUTE, None)
    if existing is not None and existing != access:
        raise TypeError(f"{view.__qualname__} declares its access twice")
    setattr(view, ACCESS_ATTRIBUTE, access)
    return view


def public(view: F) -> F:
    """Anyone may call the route, signed in or not (health, sign-in, webhooks with secrets)."""
    return _declare(view, Access("public"))


def signed_in(view: F) -> F:
    """Any signed-in person or API key may call the route."""
    return _declare(view, Access("signed_in"))


def requires(permission: Permission | str) -> Callable[[F], F]:
    """Only callers holding ``permission`` may call the route.

    :raises ValueError: ``permission`` is not a :class:`Permission`.
    """
    declared = Permission(permission)
    return lambda view: _declare(view, Access("permission", declared))


def access_of(view: Callable[..., object]) -> Access | None:
    """The access ``view`` declares, or ``None`` when it declares none."""
    return getattr(view, ACCESS_ATTRIBUTE, None)
