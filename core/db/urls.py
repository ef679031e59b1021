"""Database URLs: which backend they name, how to show them, how tortoise connects to them.

Accepted forms (the same as ``Settings.database_url``):

- ``sqlite:///absolute/path.sqlite3``, ``sqlite://relative/path.sqlite3``, ``sqlite://:memory:``
- ``postgres://user:password@host:port/database`` (also ``postgresql://`` and ``asyncpg://``),
  driven by asyncpg; query parameters are passed to asyncpg (``?ssl=true``, ``?schema=...``).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import ConfigurationError as TortoiseConfigurationError

from medianest.sdk.errors import ConfigurationError

Dialect = Literal["sqlite", "postgres"]

_SCHEMES: dict[str, Dialect] = {
    "sqlite": "sqlite",
    "postgres": "postgres",
    "postgresql": "postgres",
    "asyncpg": "postgres",
}
_SECRET_PARAMS = frozenset({"password", "passwd", "sslpassword"})
_REDACTED = "***"

SQLITE_BUSY_TIMEOUT_MS = 5_000
"""How long a SQLite writer waits for another process's lock before failing."""

POSTGRES_CONNECT_TIMEOUT_S = 10
"""How long asyncpg waits for a PostgreSQL server to accept a connection."""


def redact_url(url: str) -> str:
    """``url`` with its password (in the user info or the query string) replaced by ``***``.

    Never raises: a URL that does not parse is shown as its scheme only.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostinfo = netloc.rpartition("@")
            if ":" in userinfo:
                userinfo = f"{userinfo.split(':', 1)[0]}:{_REDACTED}"
            netloc = f"{userinfo}@{hostinfo}"
        query = parts.query
        if query:
            pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
            query = urllib.parse.urlencode(
                [(k, _REDACTED if k.lower() in _SECRET_PARAMS else v) for k, v in pairs],
                safe="*",
            )
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        return f"{scheme}://{_REDACTED}"


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL.

    :param dialect: ``sqlite`` or ``postgres``.
    :param redacted: the URL with any password replaced by ``***``; safe to log and show.
    :param sqlite_path: the SQLite file (``None`` for PostgreSQL and for ``:memory:``).
    """

    dialect: Dialect
    redacted: str
    sqlite_path: Path | None
    _connection: dict[str, Any] = field(repr=False)
    _secrets: tuple[str, ...] = field(repr=False)

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        """Parse ``url``.

        :raises ConfigurationError: an unknown scheme, no path or database, a bad port.
        """
        redacted = redact_url(url)
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        dialect = _SCHEMES.get(scheme)
        if dialect is None:
            raise ConfigurationError(
                f"database URL {redacted!r} must start with sqlite://, postgres:// or "
                f"postgresql:// (got scheme {scheme or 'none'!r})"
            )
        try:
            expanded = expand_db_url(url)
        except (TortoiseConfigurationError, ValueError) as exc:
            raise ConfigurationError(
                f"database URL {redacted!r} is not valid: {scrub(str(exc), _secrets_of(url))}"
            ) from exc
        credentials: dict[str, Any] = dict(expanded["credentials"])
        sqlite_path: Path | None = None
        if dialect == "sqlite":
            file_path = str(credentials["file_path"])
            if file_path != ":memory:":
                sqlite_path = Path(file_path)
            credentials.setdefault("journal_mode", "WAL")
            credentials.setdefault("synchronous", "NORMAL")
            credentials.setdefault("busy_timeout", SQLITE_BUSY_TIMEOUT_MS)
            credentials.setdefault("foreign_keys", "ON")
        else:
            if not credentials.get("database"):
                raise ConfigurationError(
                    f"database URL {redacted!r} names no database (add /<name> to its path)"
                )
            credentials.setdefault("timeout", POSTGRES_CONNECT_TIMEOUT_S)
        return cls(
            dialect=dialect,
            redacted=redacted,
            sqlite_path=sqlite_path,
            _connection={"engine": expanded["engine"], "credentials": credentials},
            _secrets=_secrets_of(url),
        )

    def connection_config(self) -> dict[str, Any]:
        """The tortoise connection entry (engine and credentials). Holds the password."""
        return {
            "engine": self._connection["engine"],
            "credentials": dict(self._connection["credentials"]),
        }

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of this URL's secrets replaced by ``***``."""
        return scrub(text, self._secrets)


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with each of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def _secrets_of(url: str) -> tuple[str, ...]:
    try:
        parts = urllib.parse.urlsplit(url)
        found: list[str] = []
        if parts.password:
            found += [parts.password, urllib.parse.unquote(parts.password)]
        for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
            if key.lower() in _SECRET_PARAMS and value:
                found.append(value)
        return tuple(sorted(set(found), key=len, reverse=True))
    except ValueError:
        return ()
