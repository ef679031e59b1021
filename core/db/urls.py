"""Database URLs: which backend they name, how to show them, how tortoise connects to them.

Accepted forms (the same as ``Settings.database_url``):

- ``sqlite:///absolute/path.sqlite3``, ``sqlite://relative/path.sqlite3``, ``sqlite://:memory:``
- ``postgres://user:password@host:port/database`` (also ``postgresql://`` and ``asyncpg://``),
  driven by asyncpg; query parameters are passed to asyncpg (``?schema=...``), except TLS's,
  read as libpq reads them: ``sslmode`` (``disable``, ``allow``, ``prefer``, ``require``,
  ``verify-ca``, ``verify-full``), ``sslrootcert`` (the CA file that signed the server's
  certificate), ``sslcert`` and ``sslkey`` (a client certificate). ``require`` with a
  ``sslrootcert`` checks the certificate like ``verify-ca``, as libpq does.
"""

from __future__ import annotations

import ssl
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
            tls = postgres_tls(credentials, redacted)
            if tls is not None:
                credentials["ssl"] = tls
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


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
TLS_PARAMS = ("sslmode", "sslrootcert", "sslcert", "sslkey")


def postgres_tls(credentials: dict[str, Any], redacted: str) -> ssl.SSLContext | str | None:
    """asyncpg's ``ssl`` argument for the libpq-style TLS parameters in ``credentials``
    (which are taken out of it); ``None`` when the URL has none.

    :raises ConfigurationError: an unknown ``sslmode``, a file that cannot be read, or
        certificate files without an ``sslmode`` that uses TLS.
    """
    given = {name: str(credentials.pop(name)) for name in TLS_PARAMS if name in credentials}
    if not given:
        return None
    mode = given.get("sslmode", "prefer" if "sslrootcert" not in given else "verify-full")
    if mode not in SSL_MODES:
        raise ConfigurationError(
            f"database URL {redacted!r}: sslmode must be one of {', '.join(SSL_MODES)} "
            f"(got {mode!r})"
        )
    if mode in ("disable", "allow", "prefer"):
        if mode == "disable" and len(given) > 1:
            raise ConfigurationError(
                f"database URL {redacted!r}: sslmode=disable with certificate files; "
                "use sslmode=verify-full to check the server against sslrootcert"
            )
        return mode
    root = given.get("sslrootcert")
    if mode == "require" and root is None:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # encrypted, not authenticated: libpq's require
    else:
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=root)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"database URL {redacted!r}: sslrootcert {root!r} cannot be read as a CA "
                f"file: {getattr(exc, 'strerror', None) or exc}"
            ) from exc
        context.check_hostname = mode == "verify-full"
    if "sslcert" in given:
        try:
            context.load_cert_chain(given["sslcert"], given.get("sslkey"))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"database URL {redacted!r}: sslcert/sslkey cannot be loaded: "
                f"{getattr(exc, 'strerror', None) or exc}"
            ) from exc
    return context


def describe_tls_failure(exc: BaseException) -> str | None:
    """What to check when ``exc`` (or its cause) is a refused server certificate."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return (
                f"the server's certificate was refused ({seen.verify_message or seen}); check "
                "sslrootcert in database_url (the CA that signed the server's certificate) "
                "and the host name for sslmode=verify-full"
            )
        seen = seen.__cause__ or seen.__context__
    return None


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
