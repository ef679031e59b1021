"""Who may call an HTTP route: every route the hub serves declares it.

Decorate each view (core's and plugins' alike) with exactly one of :func:`public`,
:func:`signed_in` or :func:`requires`; the hub refuses to start while any route is undeclared
and enforces the declaration on every request: 401 without a valid sign-in, 403 naming the
missing permission.

API keys act only through their permissions: a key may call a :func:`requires` route whose
permission it holds, and :func:`public` routes. :func:`signed_in` routes need an interactive
session (a signed-in person, by bearer access token or browser cookie) and refuse keys with a
403 ``api_key_not_allowed``, unless the route says ``signed_in(api_keys=True)``: keep that for
routes that only tell the caller about itself, never for ones that change or reveal the
account (sessions, keys, sign-out).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, TypeVar, overload

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
    """A route's declared access: anyone, a signed-in caller, or a permission; and whether
    API keys may call it (always for ``public`` and ``permission``)."""

    kind: Literal["public", "signed_in", "permission"]
    permission: Permission | None = None
    api_keys: bool = True

    def describe(self) -> str:
        """``public``, ``signed in``, ``signed in, no API keys`` or ``permission: <name>``."""
        if self.kind == "permission":
            return f"permission: {self.permission}"
        if self.kind == "signed_in":
            return "signed in" if self.api_keys else "signed in, no API keys"
        return "public"


def _declare(view: F, access: Access) -> F:
    existing = getattr(view, ACCESS_ATTRIBUTE, None)
    if existing is not None and existing != access:
        raise TypeError(f"{view.__qualname__} declares its access twice")
    setattr(view, ACCESS_ATTRIBUTE, access)
    return view


def public(view: F) -> F:
    """Anyone may call the route, signed in or not (health, sign-in, webhooks with secrets)."""
    return _declare(view, Access("public"))


@overload
def signed_in(view: F) -> F: ...


@overload
def signed_in(*, api_keys: bool = False) -> Callable[[F], F]: ...


def signed_in(view: F | None = None, *, api_keys: bool = False) -> F | Callable[[F], F]:
    """Any signed-in person may call the route, whatever their permissions.

    Used bare (``@signed_in``), only an interactive session may call it: API keys get a 403
    ``api_key_not_allowed``. ``@signed_in(api_keys=True)`` lets any key of a signed-in user
    call it too: only for routes that tell the caller about itself and change nothing.
    """
    declared = Access("signed_in", api_keys=api_keys)
    if view is None:
        return lambda decorated: _declare(decorated, declared)
    return _declare(view, declared)


def requires(permission: Permission | str) -> Callable[[F], F]:
    """Only callers holding ``permission`` may call the route.

    :raises ValueError: ``permission`` is not a :class:`Permission`.
    """
    declared = Permission(permission)
    return lambda view: _declare(view, Access("permission", declared))


def access_of(view: Callable[..., object]) -> Access | None:
    """The access ``view`` declares, or ``None`` when it declares none."""
    return getattr(view, ACCESS_ATTRIBUTE, None)
