"""Sign-in sessions: server-side, revocable at once on every replica.

A :class:`~medianest.core.db.models.Session` row is one signed-in device. It holds a family of
rotating opaque refresh tokens (stored as SHA-256 digests): :meth:`SessionManager.refresh`
spends the one presented and issues the next, with a new access token
(:mod:`medianest.core.auth.tokens`). Presenting a spent refresh token again is a replay: the
whole session is revoked and the answer is 401. A session ends ``auth.refresh_token_days``
after its last refresh (each refresh extends it), or when it is revoked.

The database is the source of truth for a session's state: access-token verification refuses
a token whose session row does not exist, was revoked, has ended or belongs to another user,
also right after a restart or the loss of the shared cache. The session and its user are read
through the per-process :class:`~medianest.core.auth.user_cache.UserCache` (one indexed query
when not kept from the last moments), which forgets a session revoked, or a user changed,
through the hub on every replica at once. A revocation is also kept, for the lifetime of the
access tokens already issued, as a marker in the hub's shared cache (Redis in scaled mode),
which lets every replica refuse the session's tokens without reading it; a missing marker
never lets a session in.

Callers: the sign-in API (:meth:`SessionManager.start`), the sessions API (refresh, sign-out,
listing), the request guard (:meth:`SessionManager.authenticate`), and user administration
(:func:`revoke_all` when a user is deactivated).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import structlog
from tortoise.transactions import in_transaction

from medianest.config import Settings
from medianest.config.settings import AuthSettings
from medianest.core.auth import audit
from medianest.core.auth.csrf import CsrfTokens
from medianest.core.auth.errors import InvalidCredentialsError
from medianest.core.auth.tokens import LEEWAY_SECONDS, AccessClaims, AccessTokens, secret_keys
from medianest.core.auth.user_cache import UserCache
from medianest.core.db.models import RefreshToken, Session, User
from medianest.sdk.models import Principal
from medianest.sdk.services import Cache, PubSub

log = structlog.get_logger(__name__)

REVOKED_PREFIX = "core:session-revoked:"
"""Cache key prefix of the revoked-session markers."""
USER_AGENT_MAX_LENGTH = 500

SIGNED_OUT = "signed_out"
SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
REVOKED_BY_USER = "revoked_by_user"
REFRESH_REPLAYED = "refresh_replayed"
_ACTIONS = {
    SIGNED_OUT: "session.signed_out",
    SIGNED_OUT_EVERYWHERE: "session.signed_out_everywhere",
}
"""Audit actions of revocation reasons that have their own; others are ``session.revoked``."""


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """What a sign-in or a refresh hands the client: tokens, and for how long they last."""

    session: Session
    access_token: str
    refresh_token: str
    csrf_token: str
    access_expires_in: int
    """Seconds the access token is valid."""
    refresh_expires_in: int
    """Seconds the refresh token (and the session, unless refreshed) is valid."""


class SessionManager:
    """Sessions and tokens of one hub (``hub.sessions``).

    The hub's database must be current in the calling task.
    """

    def __init__(
        self,
        tokens: AccessTokens,
        csrf: CsrfTokens,
        cache: Cache,
        users: UserCache,
        auth: AuthSettings,
    ) -> None:
        self.tokens = tokens
        self.csrf = csrf
        self.users = users
        self._cache = cache
        self._session_lifetime = timedelta(days=auth.refresh_token_days)
        # A marker must outlive every access token the session was issued before it ended.
        self._marker_ttl = tokens.lifetime.total_seconds() + 2 * LEEWAY_SECONDS + 60

    def __repr__(self) -> str:
        return f"<SessionManager {self.tokens!r}>"

    @classmethod
    def for_settings(cls, settings: Settings, cache: Cache, pubsub: PubSub) -> SessionManager:
        """The manager of a hub with ``settings`` whose shared cache and pub/sub are given.

        :raises ConfigurationError: the secret key cannot be loaded.
        """
        keys = secret_keys(settings)
        tokens = AccessTokens(keys, lifetime=timedelta(minutes=settings.auth.access_token_minutes))
        return cls(tokens, CsrfTokens(keys), cache, UserCache(pubsub), settings.auth)

    # issuing ---------------------------------------------------------------------------------

    async def start(
        self, user: User, *, ip: str | None, user_agent: str | None, now: datetime | None = None
    ) -> IssuedSession:
        """Open a session for ``user`` (who has just signed in) and issue its first tokens."""
        moment = now or datetime.now(UTC)
        refresh = _new_refresh_token()
        async with in_transaction() as connection:
            session = await Session.create(
                id=str(uuid.uuid4()),
                user=user,
                last_seen_at=moment,
                expires_at=moment + self._session_lifetime,
                ip=ip,
                user_agent=_clip(user_agent),
                using_db=connection,
            )
            await RefreshToken.create(digest=_digest(refresh), session=session, using_db=connection)
        log.info("session started", user_id=user.id, session_id=session.id)
        return self._issued(session, user.id, refresh, moment)

    async def refresh(
        self, token: str, *, ip: str | None, user_agent: str | None, now: datetime | None = None
    ) -> IssuedSession:
        """Spend refresh ``token`` and issue the session's next refresh and access tokens.

        :raises InvalidCredentialsError: the token is unknown, its session has ended or was
            revoked, its user is deactivated; or the token was already spent, in which case
            the whole session is revoked first (a replay).
        """
        moment = now or datetime.now(UTC)
        row = await _refresh_row(token)
        if row is None:
            raise InvalidCredentialsError("unknown refresh token")
        session = row.session
        if row.used_at is not None:
            await self._replayed(session)
        if not _alive(session, moment) or not session.user.is_active:
            raise InvalidCredentialsError("the session of this refresh token has ended")
        spent = await RefreshToken.filter(digest=row.digest, used_at__isnull=True).update(
            used_at=moment
        )
        if spent != 1:  # another request spent it between our read and our write
            await self._replayed(session)
        following = _new_refresh_token()
        session.last_seen_at = moment
        session.expires_at = moment + self._session_lifetime
        session.ip = ip
        session.user_agent = _clip(user_agent)
        async with in_transaction() as connection:
            await RefreshToken.create(
                digest=_digest(following), session=session, using_db=connection
            )
            await session.save(
                using_db=connection,
                update_fields=["last_seen_at", "expires_at", "ip", "user_agent"],
            )
        self.users.forget_session(session.id)  # it lasts longer now
        return self._issued(session, session.user.id, following, moment)

    def _issued(self, session: Session, user_id: int, refresh: str, now: datetime) -> IssuedSession:
        access = self.tokens.issue(user_id, session.id, now=now)
        return IssuedSession(
            session=session,
            access_token=access.token,
            refresh_token=refresh,
            csrf_token=self.csrf.for_session(session.id),
            access_expires_in=int(self.tokens.lifetime.total_seconds()),
            refresh_expires_in=int(self._session_lifetime.total_seconds()),
        )

    async def _replayed(self, session: Session) -> NoReturn:
        """Revoke ``session`` after a replayed refresh token; always raises."""
        await self.revoke(session.id, reason=REFRESH_REPLAYED)
        await audit.record(
            "session.refresh_replayed",
            actor_label=session.user.username,
            target=f"session:{session.id}",
            outcome="failure",
            details={"user_id": session.user.id},
        )
        raise InvalidCredentialsError("refresh token replayed; the session is revoked")

    # verifying -------------------------------------------------------------------------------

    async def authenticate(self, access_token: str) -> tuple[User, AccessClaims]:
        """The user (shared: read it, never save it) and claims of a valid access token of a
        live session.

        :raises InvalidCredentialsError: the token does not verify; its session is unknown,
            was revoked, has ended or is another user's; or its user is gone or deactivated.
        """
        claims = self.tokens.verify(access_token)
        if await self.is_revoked(claims.session_id):
            raise InvalidCredentialsError("the session of this access token was revoked")
        session = await self.users.session(claims.session_id)
        if session is None or session.user_id != claims.user_id:
            raise InvalidCredentialsError("the session of this access token is unknown")
        if not session.is_live(datetime.now(UTC)):
            raise InvalidCredentialsError("the session of this access token has ended")
        user = await self.users.get(claims.user_id)
        if user is None or not user.is_active:
            raise InvalidCredentialsError("the user of this access token cannot sign in")
        return user, claims

    async def is_revoked(self, session_id: str) -> bool:
        """True when the shared cache holds the revocation marker of ``session_id`` (a quick
        refusal; ``False`` proves nothing: :meth:`authenticate` reads the session)."""
        return await self._cache.get(REVOKED_PREFIX + session_id) is not None

    async def session_of(
        self, refresh_token: str, *, now: datetime | None = None
    ) -> Session | None:
        """The live session ``refresh_token`` belongs to, spent or not; nothing is changed."""
        row = await _refresh_row(refresh_token)
        if row is None or not _alive(row.session, now or datetime.now(UTC)):
            return None
        return row.session

    async def active_sessions(self, user_id: int, *, now: datetime | None = None) -> list[Session]:
        """The live sessions of ``user_id``, most recently seen first."""
        return (
            await Session.filter(
                user_id=user_id, revoked_at__isnull=True, expires_at__gt=now or datetime.now(UTC)
            )
            .order_by("-last_seen_at", "id")
            .all()
        )

    # revoking --------------------------------------------------------------------------------

    async def revoke(self, session_id: str, *, reason: str, actor: Principal | None = None) -> bool:
        """End ``session_id`` now: every replica refuses its tokens from the next request.

        Records an audit event (``session.signed_out`` for :data:`SIGNED_OUT`, else
        ``session.revoked``) when the session was live. Returns whether it was.
        """
        await self._mark_revoked([session_id])
        moment = datetime.now(UTC)
        owners = await Session.filter(id=session_id).values_list("user_id", flat=True)
        updated = await Session.filter(id=session_id, revoked_at__isnull=True).update(
            revoked_at=moment, revoked_reason=reason
        )
        await self.users.session_ended(session_id)
        if updated:
            await audit.record(
                _ACTIONS.get(reason, "session.revoked"),
                actor=actor,
                target=f"session:{session_id}",
                details={"reason": reason, "user_id": owners[0] if owners else None},
            )
        return bool(updated)

    async def revoke_all(self, user_id: int, *, reason: str, actor: Principal | None = None) -> int:
        """End every live session of ``user_id`` now; returns how many there were.

        Records one audit event (``session.signed_out_everywhere`` for
        :data:`SIGNED_OUT_EVERYWHERE`, else ``session.revoked_all``) with the count.
        """
        moment = datetime.now(UTC)
        rows = await Session.filter(
            user_id=user_id, revoked_at__isnull=True, expires_at__gt=moment
        ).values_list("id", flat=True)
        ids = [str(session_id) for session_id in rows]
        await self._mark_revoked(ids)
        count = 0
        if ids:
            count = await Session.filter(id__in=ids, revoked_at__isnull=True).update(
                revoked_at=moment, revoked_reason=reason
            )
            await self.users.changed(user_id)
        await audit.record(
            _ACTIONS.get(reason, "session.revoked_all"),
            actor=actor,
            target=f"user:{user_id}",
            details={"reason": reason, "sessions": count},
        )
        return count

    async def _mark_revoked(self, session_ids: list[str]) -> None:
        for session_id in session_ids:
            await self._cache.set(REVOKED_PREFIX + session_id, True, ttl=self._marker_ttl)


async def _refresh_row(token: str) -> RefreshToken | None:
    if not token or len(token) > 200:
        return None
    return await RefreshToken.filter(digest=_digest(token)).select_related("session__user").first()


def _alive(session: Session, now: datetime) -> bool:
    return session.revoked_at is None and session.expires_at > now


def _new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _clip(user_agent: str | None) -> str | None:
    return user_agent[:USER_AGENT_MAX_LENGTH] if user_agent else None
