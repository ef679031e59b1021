"""Access tokens: short-lived JWTs that say which user and which session a request runs as.

A token is HS256-signed with a key derived from the hub's secret key (HKDF, purpose
:data:`SIGNING_PURPOSE`); its ``kid`` header names the key, so tokens signed under a key now
listed in ``previous_secret_keys`` still verify after a rotation while new ones are signed
under ``secret_key``. Claims: ``iss`` :data:`ISSUER`, ``aud`` :data:`AUDIENCE`, ``sub`` the
user id, ``sid`` the session id, ``iat``, ``exp`` and a unique ``jti``.

A token alone proves nothing about revocation: :mod:`medianest.core.auth.sessions` checks that
its session is still alive on every request.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from medianest.config import Settings
from medianest.core.auth.errors import InvalidCredentialsError
from medianest.core.secrets import derive_key, load_secret_key

ISSUER = "medianest"
AUDIENCE = "medianest-api"
ALGORITHM = "HS256"
SIGNING_PURPOSE = "medianest access token signing v1"
"""The HKDF ``info`` of the signing keys."""
KEY_ID_PURPOSE = "medianest access token key id v1"
"""The HKDF ``info`` of the public ``kid`` of each signing key (unrelated to the key)."""
LEEWAY_SECONDS = 10
"""Clock difference tolerated between replicas for ``iat`` and ``exp``."""
REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "iat", "exp", "jti"]


def secret_keys(settings: Settings) -> list[str]:
    """The hub's secret key followed by ``previous_secret_keys``, without repeats.

    :raises ConfigurationError: as :func:`~medianest.core.secrets.load_secret_key`.
    """
    keys = [load_secret_key(settings)]
    for previous in settings.previous_secret_keys:
        value = previous.get_secret_value()
        if value not in keys:
            keys.append(value)
    return keys


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: int
    session_id: str
    token_id: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    """A new access token and its claims."""

    token: str
    claims: AccessClaims


class AccessTokens:
    """Issues and verifies access tokens.

    :param keys: secret keys, the current one first; each gets its own derived signing key.
    :param lifetime: how long a new token is valid.
    :raises ValueError: no key given.
    """

    def __init__(self, keys: Sequence[str], *, lifetime: timedelta) -> None:
        if not keys:
            raise ValueError("access tokens need at least one secret key")
        self.lifetime = lifetime
        self._keys: dict[str, bytes] = {}
        for key in keys:
            kid = derive_key(key, KEY_ID_PURPOSE, length=8).hex()
            self._keys.setdefault(kid, derive_key(key, SIGNING_PURPOSE))
        self._current = next(iter(self._keys))

    def __repr__(self) -> str:
        return f"<AccessTokens with {len(self._keys)} key(s)>"

    @property
    def current_key_id(self) -> str:
        """The ``kid`` new tokens are signed under."""
        return self._current

    def issue(
        self, user_id: int, session_id: str, *, now: datetime | None = None
    ) -> IssuedAccessToken:
        """A token for ``user_id`` in ``session_id``, valid for :attr:`lifetime` from ``now``."""
        issued_at = (now or datetime.now(UTC)).replace(microsecond=0)
        claims = AccessClaims(
            user_id=user_id,
            session_id=session_id,
            token_id=secrets.token_urlsafe(12),
            issued_at=issued_at,
            expires_at=issued_at + self.lifetime,
        )
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "sid": session_id,
            "iat": int(claims.issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "jti": claims.token_id,
        }
        token = jwt.encode(
            payload, self._keys[self._current], algorithm=ALGORITHM, headers={"kid": self._current}
        )
        return IssuedAccessToken(token=token, claims=claims)

    def verify(self, token: str) -> AccessClaims:
        """The claims of ``token`` once its signature, issuer, audience and times check out.

        :raises InvalidCredentialsError: malformed, signed with an unknown key or another
            algorithm, tampered with, expired, not yet valid, of another issuer or audience,
            or missing a claim. The message is for logs only, never for the caller.
        """
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidCredentialsError("malformed access token") from exc
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidCredentialsError("access token signed with an unknown key")
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise InvalidCredentialsError(f"access token refused: {type(exc).__name__}") from exc
        return _claims(payload)


def _claims(payload: dict[str, object]) -> AccessClaims:
    subject, session_id, token_id = payload["sub"], payload["sid"], payload["jti"]
    issued_at, expires_at = payload["iat"], payload["exp"]
    if not (
        isinstance(subject, str)
        and subject.isdigit()
        and isinstance(session_id, str)
        and session_id
        and isinstance(token_id, str)
        and isinstance(issued_at, int)
        and isinstance(expires_at, int)
    ):
        raise InvalidCredentialsError("access token claims of the wrong type")
    return AccessClaims(
        user_id=int(subject),
        session_id=session_id,
        token_id=token_id,
        issued_at=datetime.fromtimestamp(issued_at, UTC),
        expires_at=datetime.fromtimestamp(expires_at, UTC),
    )
