"""Rate-limit groups a route joins beyond the one its path gives it.

The hub limits every ``/api/v1`` route by its path: the sign-in routes count against the
``sign_in`` group (per client IP), every other route against the ``api`` group (per user, or
per client IP when anonymous). A route doing something costlier declares the group that also
limits it::

    @blueprint.post("/requests")
    @requires(Permission.REQUEST)
    @rate_limited("requests")
    async def create_request(...): ...

Each group's limit and window are hub settings (``rate_limits.<group>``); over the limit the
caller gets a 429 problem with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar, get_args

F = TypeVar("F", bound=Callable[..., object])

RATE_LIMITS_ATTRIBUTE = "__medianest_rate_limits__"

RouteGroup = Literal["sign_in", "requests"]
"""Groups a route may declare: ``sign_in`` (counted per client IP: a plugin's own sign-in
step) and ``requests`` (media requests created; counted per user, per client IP when
anonymous)."""

ROUTE_GROUPS: frozenset[str] = frozenset(get_args(RouteGroup))


def rate_limited(group: RouteGroup) -> Callable[[F], F]:
    """Count every call of the decorated view against ``group`` as well.

    Stack it anywhere among the view's decorators; declaring several groups is allowed.

    :raises ValueError: ``group`` is not one of :data:`ROUTE_GROUPS`.
    """
    if group not in ROUTE_GROUPS:
        raise ValueError(f"{group!r} is not a rate-limit group ({', '.join(sorted(ROUTE_GROUPS))})")

    def declare(view: F) -> F:
        declared = getattr(view, RATE_LIMITS_ATTRIBUTE, ())
        if group not in declared:
            setattr(view, RATE_LIMITS_ATTRIBUTE, (*declared, group))
        return view

    return declare


def rate_limit_groups_of(view: Callable[..., object]) -> tuple[str, ...]:
    """The groups ``view`` declared with :func:`rate_limited`, in declaration order."""
    return tuple(getattr(view, RATE_LIMITS_ATTRIBUTE, ()))
