"""Rate limits and sign-in lockout, shared by every replica through ``hub.rate_limiter``.

Route groups (limits and windows are the ``rate_limits.<group>`` settings):

- ``sign_in``: ``POST /api/v1/auth/providers/{id}/start|sign-in`` and
  ``/api/v1/auth/refresh``, counted per client IP;
- ``api``: every other ``/api/v1`` route, counted per user when the caller is signed in
  (``g.principal``), else per client IP. This includes ``.../poll``: a browser polls about
  once a second while the person approves elsewhere, so polls cannot share the few sign-in
  attempts a minute; a poll that fails counts towards the lockout below instead;
- groups a view declares with :func:`medianest.sdk.rate_limits.rate_limited` (``requests``
  for media requests created), counted on top of the path's group.

Health, metrics and pages are never limited. An IPv6 client is counted by its /64 network, as
one host usually holds a whole /64. Each limited response carries ``RateLimit-Limit``,
``RateLimit-Remaining``, ``RateLimit-Reset`` (seconds) and ``RateLimit-Policy``
(``<limit>;w=<window seconds>`` per group) for its tightest group; over a limit the answer is a
429 problem with ``Retry-After``. ``rate_limits.enabled = false`` turns the limits off.

Lockout (always on, ``auth.lockout_attempts`` / ``auth.lockout_minutes``): sign-in answers of
401 or 403 are failures, counted per client IP and username (credentials sign-in) or per client
IP (interactive sign-in). After ``lockout_attempts`` failures in a row, further sign-in
attempts in that scope are refused with a 429 ``sign_in_locked`` problem for
``lockout_minutes``, on every replica, and a ``sign_in.locked_out`` audit event is stored. A
completed sign-in resets the count.

Per username (always on, ``auth.username_attempts`` / ``auth.username_pause_seconds``):
credentials sign-in failures are also counted per username alone, from every address, so
guessing one account's password from many addresses is slowed too. After
``username_attempts`` failures within ``username_pause_seconds``, sign-ins for that username
are refused with a 429 ``sign_in_slowed`` problem (with ``Retry-After``) for
``username_pause_seconds``, and a ``sign_in.slowed`` audit event is stored. Addresses the
username signed in from in the last :data:`KNOWN_ADDRESS_DAYS` days are exempt, so guesses
from elsewhere never lock the owner out of their own devices (their own typos there count
towards the per-address lockout only); a completed sign-in resets the count.

When Redis cannot be reached, sign-in routes answer 503 (a lockout that cannot be checked is
not skipped) while other routes go unlimited, with a warning logged.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv6Address, IPv6Network
from typing import Any, Protocol

import structlog
from quart import Quart, Response, current_app, g, request

from medianest.config import Settings
from medianest.config.settings import RateLimitRule, RateLimitSettings
from medianest.core.auth import audit
from medianest.core.auth.client_ip import current_client_ip, parse_address
from medianest.core.db.models import Session
from medianest.core.state.errors import StateUnavailableError
from medianest.sdk.errors import RateLimitedError
from medianest.sdk.models import Principal
from medianest.sdk.rate_limits import ROUTE_GROUPS, rate_limit_groups_of
from medianest.sdk.services import Cache, RateLimiter, RateLimitResult
from medianest.sdk.web import current_principal


class SharedLimits(Protocol):
    """What the rate limits use of a hub: its settings and shared state (read per request,
    so they may be opened after installing)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def rate_limiter(self) -> RateLimiter: ...

    @property
    def cache(self) -> Cache: ...


log = structlog.get_logger(__name__)

API_PREFIX = "/api/v1"
SIGN_IN_PATH = re.compile(
    r"^/api/v1/auth/(?:providers/(?P<provider>[^/]+)/(?P<action>start|poll|sign-in)|refresh)$"
)
"""The sign-in routes: all but ``poll`` form the ``sign_in`` group; all naming a provider
are under lockout."""
UNCOUNTED_SIGN_IN_ACTIONS = frozenset({"poll"})
"""Sign-in actions counted in the ``api`` group rather than ``sign_in``."""
FAILED_SIGN_IN_STATUSES = frozenset({401, 403})
COMPLETED_SIGN_IN_ACTIONS = frozenset({"poll", "sign-in"})
"""Actions whose 200 answer means someone signed in (``start`` only begins a sign-in)."""
USERNAME_FIELDS = ("username", "email", "login", "user")
"""Where a credentials sign-in's username is looked for, in order."""
IPV6_CLIENT_PREFIX = 64
INSTALLED = "medianest.rate_limits"
"""The ``app.extensions`` key marking an app whose rate limits are installed."""


class SignInLockedError(RateLimitedError):
    """Too many failed sign-ins from this address (and username): wait before trying again."""

    code = "sign_in_locked"


KNOWN_ADDRESS_DAYS = 30
"""How long an address a person signed in from stays theirs for the per-username pause."""


class SignInSlowedError(RateLimitedError):
    """Too many failed sign-ins for this username from anywhere: wait a moment."""

    code = "sign_in_slowed"


@dataclass(frozen=True, slots=True)
class Limit:
    """One counter a request is charged to: ``key`` under ``rule``."""

    group: str
    key: str
    rule: RateLimitRule


@dataclass(frozen=True, slots=True)
class LockoutScope:
    """Whose failed sign-ins a request counts towards; ``username`` only for credentials."""

    key: str
    provider: str
    username: str | None


def limits_for(
    path: str,
    declared: Sequence[str],
    principal: Principal | None,
    client_ip: str,
    settings: RateLimitSettings,
) -> list[Limit]:
    """The counters a request to ``path`` is charged to; empty when it is not limited.

    :param declared: the route groups the view declared (:func:`rate_limited`); names that
        are not route groups are ignored.
    """
    if not settings.enabled:
        return []
    groups: list[str] = []
    sign_in = SIGN_IN_PATH.match(path)
    if sign_in is not None and sign_in["action"] not in UNCOUNTED_SIGN_IN_ACTIONS:
        groups.append("sign_in")
    elif path == API_PREFIX or path.startswith(f"{API_PREFIX}/"):
        groups.append("api")
    groups += [name for name in declared if name in ROUTE_GROUPS and name not in groups]
    host = client_key(client_ip)
    limits = []
    for group in groups:
        if group == "sign_in" or principal is None:
            key = f"{group}:ip:{host}"
        else:
            key = f"{group}:user:{principal.user_id}"
        limits.append(Limit(group, key, getattr(settings, group)))
    return limits


def client_key(client_ip: str) -> str:
    """The address a client is counted by: itself, or its /64 network for IPv6."""
    address = parse_address(client_ip)
    if isinstance(address, IPv6Address):
        return str(IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address) if address is not None else client_ip


def lockout_scope(path: str, client_ip: str, body: Any) -> LockoutScope | None:
    """The lockout scope of a sign-in request, or ``None`` for routes outside the lockout.

    :param body: the parsed JSON body (anything, or ``None``); only a credentials sign-in
        (``.../sign-in``) looks in it for the username.
    """
    match = SIGN_IN_PATH.match(path)
    if match is None or match["provider"] is None:
        return None
    host = client_key(client_ip)
    username = _username(body) if match["action"] == "sign-in" else None
    if username is None:
        return LockoutScope(key=f"ip:{host}", provider=match["provider"], username=None)
    digest = hashlib.sha256(username.encode("utf-8")).hexdigest()[:32]
    return LockoutScope(
        key=f"ip:{host}:user:{digest}", provider=match["provider"], username=username
    )


def username_scope(scope: LockoutScope) -> LockoutScope | None:
    """The scope counting the failures of ``scope``'s username from every address, or
    ``None`` when ``scope`` has no username (interactive sign-in)."""
    if scope.username is None:
        return None
    digest = hashlib.sha256(scope.username.encode("utf-8")).hexdigest()[:32]
    return LockoutScope(key=f"user:{digest}", provider=scope.provider, username=scope.username)


def tightest(results: Sequence[RateLimitResult]) -> RateLimitResult:
    """The result the headers report: the first refusal, else the fewest calls remaining."""
    refused = [r for r in results if not r.allowed]
    if refused:
        return refused[0]
    return min(results, key=lambda r: (r.remaining, -r.reset_after))


def rate_limit_headers(limits: Sequence[Limit], result: RateLimitResult) -> dict[str, str]:
    """The ``RateLimit-*`` headers for ``result`` under the policies of ``limits``."""
    return {
        "RateLimit-Limit": str(result.limit),
        "RateLimit-Remaining": str(max(0, result.remaining)),
        "RateLimit-Reset": str(max(0, math.ceil(result.reset_after))),
        "RateLimit-Policy": ", ".join(
            f"{limit.rule.limit};w={math.ceil(limit.rule.window_seconds)}" for limit in limits
        ),
    }


class SignInLockout:
    """Failed sign-ins counted per :class:`LockoutScope`, and the lockouts they lead to.

    Counters live in the hub's rate limiter and lockouts in its cache, so every replica sees
    them. Methods raise :class:`StateUnavailableError` when Redis cannot be reached.

    :param attempts: failures within ``seconds`` of the first that lock a scope out...
    :param seconds: ...for this long.
    """

    def __init__(self, limiter: RateLimiter, cache: Cache, attempts: int, seconds: int) -> None:
        self._limiter = limiter
        self._cache = cache
        self.attempts = attempts
        self.seconds = seconds

    async def locked_for(self, scope: LockoutScope) -> float | None:
        """Seconds left of the lockout of ``scope``, or ``None`` when it is not locked out."""
        entry = await self._cache.get(self._lock_key(scope))
        if not isinstance(entry, dict):
            return None
        left = float(entry.get("until", 0)) - time.time()
        return left if left > 0 else None

    async def failed(self, scope: LockoutScope) -> bool:
        """Count one failed sign-in; lock ``scope`` out when it was one too many.

        :returns: whether this failure locked the scope out.
        """
        counted = await self._limiter.hit(
            self._failures_key(scope), self.attempts, float(self.seconds)
        )
        if counted.allowed and counted.remaining > 0:
            return False
        until = time.time() + self.seconds
        await self._cache.set(self._lock_key(scope), {"until": until}, float(self.seconds))
        await self._limiter.reset(self._failures_key(scope))
        return True

    async def succeeded(self, scope: LockoutScope) -> None:
        """A completed sign-in: forget the failures counted for ``scope``."""
        await self._limiter.reset(self._failures_key(scope))

    @staticmethod
    def _failures_key(scope: LockoutScope) -> str:
        return f"sign_in_failures:{scope.key}"

    @staticmethod
    def _lock_key(scope: LockoutScope) -> str:
        return f"sign_in_lockout:{scope.key}"


def install_rate_limits(app: Quart, hub: SharedLimits) -> None:
    """Limit the requests of ``app`` and lock out repeated failed sign-ins.

    Register it after the hooks that set ``g.client_ip`` and ``g.principal``: its
    ``before_request`` hook charges the request to its counters (and refuses it with a 429
    when one is spent or its sign-in scope is locked out); its ``after_request`` hook adds the
    ``RateLimit-*`` headers and counts sign-in failures and completions. Installing twice on
    one app does nothing the second time.
    """
    if INSTALLED in app.extensions:
        return
    app.extensions[INSTALLED] = True
    settings = hub.settings

    def lockout() -> SignInLockout:
        return SignInLockout(
            hub.rate_limiter,
            hub.cache,
            settings.auth.lockout_attempts,
            settings.auth.lockout_minutes * 60,
        )

    def username_pause() -> SignInLockout:
        return SignInLockout(
            hub.rate_limiter,
            hub.cache,
            settings.auth.username_attempts,
            settings.auth.username_pause_seconds,
        )

    @app.before_request
    async def apply_rate_limits() -> Response | None:
        client_ip = current_client_ip()
        view = current_app.view_functions.get(request.endpoint or "")
        declared = rate_limit_groups_of(view) if view is not None else ()
        limits = limits_for(
            request.path, declared, current_principal(), client_ip, settings.rate_limits
        )
        is_sign_in = bool(SIGN_IN_PATH.match(request.path))
        try:
            await _charge(hub.rate_limiter, limits)
            scope = await _lockout_scope(client_ip)
            if scope is not None:
                g.sign_in_lockout_scope = scope
                left = await lockout().locked_for(scope)
                if left is not None:
                    raise SignInLockedError(
                        "too many failed sign-ins; try again later", retry_after=math.ceil(left)
                    )
                per_username = await _username_scope_from(scope, client_ip)
                g.sign_in_username_scope = per_username
                if per_username is not None:
                    left = await username_pause().locked_for(per_username)
                    if left is not None:
                        raise SignInSlowedError(
                            "too many failed sign-ins for this username; try again in "
                            f"{math.ceil(left)} s",
                            retry_after=math.ceil(left),
                        )
        except StateUnavailableError as exc:
            if not is_sign_in:
                log.warning("rate limits skipped: shared state unavailable", error=str(exc))
                return None
            log.error("sign-in refused: shared state unavailable", error=str(exc))
            raise StateUnavailableError(
                "sign-in is unavailable for a moment; try again shortly"
            ) from exc
        return None

    @app.after_request
    async def report_rate_limits(response: Response) -> Response:
        headers = g.get("rate_limit_headers")
        if headers:
            response.headers.update(headers)
        scope = g.get("sign_in_lockout_scope")
        if scope is not None:
            await _observe_sign_in(lockout(), scope, response.status_code)
            per_username = g.get("sign_in_username_scope")
            if per_username is not None:
                await _observe_sign_in(
                    username_pause(), per_username, response.status_code, slowed=True
                )
        return response


async def _username_scope_from(scope: LockoutScope, client_ip: str) -> LockoutScope | None:
    """The per-username scope of a sign-in from ``client_ip``, or ``None`` when there is none
    to apply: no username, or an address this username has signed in from before (its owner's
    own devices are never paused by guesses from elsewhere)."""
    per_username = username_scope(scope)
    if per_username is None or await signed_in_from(per_username.username or "", client_ip):
        return None
    return per_username


async def signed_in_from(username: str, client_ip: str) -> bool:
    """Whether a session of the user called ``username`` was started from ``client_ip`` within
    :data:`KNOWN_ADDRESS_DAYS` days."""
    if not client_ip or len(username) > 200:
        return False
    since = datetime.now(UTC) - timedelta(days=KNOWN_ADDRESS_DAYS)
    return await Session.filter(
        user__username=username, ip=client_ip, created_at__gte=since
    ).exists()


async def _charge(limiter: RateLimiter, limits: Sequence[Limit]) -> None:
    """Hit every counter of ``limits``; keep the headers in ``g``; raise on the first refusal.

    :raises RateLimitedError: a counter is spent (``retry_after``: when it has room again).
    """
    results: list[RateLimitResult] = []
    for limit in limits:
        result = await limiter.hit(limit.key, limit.rule.limit, limit.rule.window_seconds)
        results.append(result)
        if not result.allowed:
            g.rate_limit_headers = rate_limit_headers(limits, result)
            log.info("rate limited", group=limit.group)
            raise RateLimitedError(
                f"too many requests ({limit.group}: {limit.rule.limit} per "
                f"{limit.rule.window_seconds:g} s); try again later",
                retry_after=max(1, math.ceil(result.reset_after)),
            )
    if results:
        g.rate_limit_headers = rate_limit_headers(limits, tightest(results))


async def _lockout_scope(client_ip: str) -> LockoutScope | None:
    match = SIGN_IN_PATH.match(request.path)
    if match is None or match["provider"] is None:
        return None
    body = await request.get_json(silent=True) if match["action"] == "sign-in" else None
    return lockout_scope(request.path, client_ip, body)


async def _observe_sign_in(
    lockout: SignInLockout, scope: LockoutScope, status: int, *, slowed: bool = False
) -> None:
    """Count a sign-in answer towards ``scope``'s lockout (the username's pause when
    ``slowed``); never fails the response."""
    action = SIGN_IN_PATH.match(request.path)
    try:
        if status in FAILED_SIGN_IN_STATUSES:
            if await lockout.failed(scope):
                log.warning(
                    "sign-in slowed" if slowed else "sign-in locked out", provider=scope.provider
                )
                length = (
                    {"seconds": lockout.seconds} if slowed else {"minutes": lockout.seconds // 60}
                )
                await audit.record(
                    "sign_in.slowed" if slowed else "sign_in.locked_out",
                    actor_label=scope.username,
                    target=scope.provider[:200],
                    outcome="failure",
                    details={"provider": scope.provider, "attempts": lockout.attempts} | length,
                )
        elif status == 200 and action is not None and action["action"] in COMPLETED_SIGN_IN_ACTIONS:
            await lockout.succeeded(scope)
    except Exception as exc:  # the answer stands; a lost count is logged, never a 500
        log.error("sign-in lockout not updated", error=f"{type(exc).__name__}: {exc}")


def _username(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("credentials"), dict):
        return None
    credentials = body["credentials"]
    for field in USERNAME_FIELDS:
        value = credentials.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip().casefold()[:200]
    return None
