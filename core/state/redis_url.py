"""Redis URLs: a single server (``redis://``, ``rediss://`` over TLS, ``unix://``) or a
master found through Redis Sentinel (``redis+sentinel://``, ``rediss+sentinel://``).

- ``rediss://:password@redis.example.org:6380/0?ssl_ca_certs=/run/secrets/redis-ca.pem``:
  TLS, the server's certificate checked against that CA file (``ssl_cert_reqs=required`` by
  default; ``ssl_certfile``/``ssl_keyfile`` present a client certificate;
  ``ssl_check_hostname=true`` checks the name as well).
- ``redis+sentinel://:password@sentinel-a:26379,sentinel-b:26379/mymaster/0``: ask those
  sentinels where the master named ``mymaster`` is (database 0), and again after a failover.
  ``sentinel_password`` in the query authenticates to the sentinels (the user info is the
  master's). ``rediss+sentinel://`` speaks TLS to the master and to the sentinels.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from medianest.sdk.errors import ConfigurationError

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
TLS_OPTIONS = ("ssl_ca_certs", "ssl_cert_reqs", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname")
_CERT_REQS = ("none", "optional", "required")


@dataclass(frozen=True)
class RedisTarget:
    """A parsed Redis URL.

    :param sentinels: ``(host, port)`` of each sentinel; empty for a single server.
    :param master: the sentinel master's name.
    :param tls: speak TLS (``rediss``).
    :param tls_options: ``ssl_*`` options from the query (CA file, client certificate, checks).
    """

    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str | None = None
    database: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)
    tls: bool = False
    tls_options: dict[str, Any] = field(default_factory=dict)

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)

    @classmethod
    def parse(cls, url: str) -> RedisTarget:
        """Parse ``url``.

        :raises ConfigurationError: a sentinel URL without sentinels or master, a bad port,
            an unknown ``ssl_cert_reqs``, a CA file that does not exist.
        """
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        options = {name: query[name][-1] for name in TLS_OPTIONS if name in query}
        tls = scheme in ("rediss", "rediss+sentinel")
        _check_tls_options(options, tls)
        if scheme not in SENTINEL_SCHEMES:
            return cls(url=url, tls=tls, tls_options=options)
        rest = url.split("://", 1)[1]
        netloc, _, path = rest.partition("/")
        path = path.split("?", 1)[0]
        userinfo, _, hosts = netloc.rpartition("@")
        username, _, password = userinfo.partition(":")
        sentinels = tuple(_host_port(item, url) for item in hosts.split(",") if item)
        parts = [p for p in path.split("/") if p]
        if not sentinels or not parts:
            raise ConfigurationError(
                f"redis_url {shown_url(url)!r}: a sentinel URL names its sentinels and the "
                "master, like redis+sentinel://sentinel-a:26379,sentinel-b:26379/mymaster/0"
            )
        try:
            database = int(parts[1]) if len(parts) > 1 else 0
        except ValueError:
            raise ConfigurationError(
                f"redis_url {shown_url(url)!r}: the database after the master name must be a "
                f"number (got {parts[1]!r})"
            ) from None
        return cls(
            url=url,
            sentinels=sentinels,
            master=urllib.parse.unquote(parts[0]),
            database=database,
            username=urllib.parse.unquote(username) or None,
            password=urllib.parse.unquote(password) or None,
            sentinel_password=query.get("sentinel_password", [None])[-1],
            tls=tls,
            tls_options=options,
        )

    def connection_options(self) -> dict[str, Any]:
        """Keyword arguments of redis-py's connections for the TLS options."""
        options: dict[str, Any] = dict(self.tls_options)
        if "ssl_check_hostname" in options:
            options["ssl_check_hostname"] = _truthy(options["ssl_check_hostname"])
        return options


def _check_tls_options(options: dict[str, Any], tls: bool) -> None:
    if options and not tls:
        raise ConfigurationError(
            f"redis_url sets {', '.join(sorted(options))} but does not use TLS: "
            "start it with rediss:// (or rediss+sentinel://)"
        )
    reqs = options.get("ssl_cert_reqs")
    if reqs is not None and reqs not in _CERT_REQS:
        raise ConfigurationError(
            f"redis_url: ssl_cert_reqs must be one of {', '.join(_CERT_REQS)} (got {reqs!r})"
        )
    for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
        path = options.get(name)
        if path is not None:
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise ConfigurationError(
                    f"redis_url: {name} file {path!r} cannot be read: {exc.strerror}"
                ) from exc


def _host_port(item: str, url: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    if not host:
        return item, 26379
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise ConfigurationError(
            f"redis_url {shown_url(url)!r}: sentinel {item!r} has no valid port"
        ) from None


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def shown_url(url: str) -> str:
    """``url`` without its credentials and query."""
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    hosts = netloc.rpartition("@")[2]
    return f"{scheme}://{hosts}{slash}{path.split('?', 1)[0]}"
