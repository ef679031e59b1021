"""Passwords of local accounts: argon2id hashes, checked in constant time.

Hashes use argon2-cffi's defaults (argon2id, RFC 9106 low-memory profile); a hash made with
weaker parameters verifies but reports :func:`needs_rehash`, and the caller stores a new one.
Hashing takes about a tenth of a second on purpose: the async helpers run it in a thread so
the event loop keeps serving.

:func:`verify` spends the same work whether or not there is a hash to check against, so a
sign-in attempt for an unknown username takes as long as one with a wrong password.
Passwords are never logged or put in an error message.
"""

from __future__ import annotations

import asyncio
import secrets
from functools import cache

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from medianest.sdk.errors import InvalidInputError

log = structlog.get_logger(__name__)

MIN_LENGTH = 12
"""The shortest password a local account may have."""
MAX_LENGTH = 4096
"""The longest (the sign-in form accepts no longer values)."""

_hasher = PasswordHasher()


def check_strength(password: str, *, username: str | None = None) -> None:
    """Refuse a password too weak for a local account.

    :raises InvalidInputError: shorter than :data:`MIN_LENGTH`, longer than
        :data:`MAX_LENGTH`, blank, or the username itself (field ``password``).
    """
    if len(password) < MIN_LENGTH:
        raise InvalidInputError(
            f"the password must be at least {MIN_LENGTH} characters long", field="password"
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInputError(
            f"the password must be at most {MAX_LENGTH} characters long", field="password"
        )
    if not password.strip():
        raise InvalidInputError("the password must not be only spaces", field="password")
    if username is not None and password.strip().casefold() == username.strip().casefold():
        raise InvalidInputError("the password must not be the username", field="password")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; two calls give two different hashes)."""
    return _hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``.

    With no hash (an unknown user, an account without a password) or an unreadable one, the
    same work is spent against a throw-away hash and the answer is ``False``.
    """
    if stored_hash is None:
        _spend(password)
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except VerificationError:
        return False
    except InvalidHashError:
        log.warning("stored password hash is not an argon2 hash")
        _spend(password)
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when ``stored_hash`` was made with other parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


async def hash_password_async(password: str) -> str:
    """:func:`hash_password` in a worker thread."""
    return await asyncio.to_thread(hash_password, password)


async def verify_async(stored_hash: str | None, password: str) -> bool:
    """:func:`verify` in a worker thread."""
    return await asyncio.to_thread(verify, stored_hash, password)


def _spend(password: str) -> None:
    """Verify ``password`` against a hash nobody knows the password of."""
    try:
        _hasher.verify(_throwaway_hash(), password)
    except VerificationError:
        pass


@cache
def _throwaway_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(32))
