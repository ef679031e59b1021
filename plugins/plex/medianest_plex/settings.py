"""The ``[plugins.plex]`` settings: the Plex servers this hub fronts and how to talk to plex.tv.

Example ``medianest.toml``::

    [plugins.plex]
    webhook_secret = "a-long-random-string"

    [[plugins.plex.servers]]
    name = "home"
    url = "http://192.168.1.10:32400"
    token = "the server owner's X-Plex-Token"
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from medianest.sdk import PluginSettings
from medianest_plex.const import (
    CLIENT_IDENTIFIER_NAMESPACE,
    DEFAULT_AUTH_APP_URL,
    DEFAULT_CHANGES_OVERLAP_SECONDS,
    DEFAULT_PAGE_SIZE,
    DEFAULT_PLEXTV_URL,
    DEFAULT_PRODUCT,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_PAGE_SIZE,
    PLUGIN_KEY,
)

SERVER_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
WEBHOOK_SECRET_MIN_LENGTH = 16


def _http_url(value: str, what: str) -> str:
    """``value`` without a trailing slash, or ``ValueError`` saying why it is not an http(s) URL."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what} must be an http:// or https:// URL with a host, got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must not carry a query string or fragment, got {value!r}")
    return value.rstrip("/")


class ServerSettings(BaseModel):
    """One Plex Media Server, registered as the media source ``plex:<name>``.

    ``token`` is an ``X-Plex-Token`` of the server's owner (or an admin token); it is used
    for library reads and never logged. ``machine_identifier`` is normally learned from the
    server's ``/identity``; set it to let people sign in while the server is unreachable.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=SERVER_NAME_PATTERN,
        description="instance key (lowercase letters, digits, - and _); source id plex:<name>",
    )
    url: str = Field(description="base URL of the server, e.g. http://192.168.1.10:32400")
    token: SecretStr = Field(description="X-Plex-Token used to read the server's library")
    verify_tls: bool = Field(default=True, description="check the server's TLS certificate")
    timeout: float = Field(
        default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=300, description="seconds per request"
    )
    machine_identifier: str | None = Field(
        default=None, min_length=1, description="the server's machineIdentifier, if known"
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value, "url")

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("token is empty")
        return value

    @property
    def source_id(self) -> str:
        """The media source id of this server: ``plex:<name>``."""
        return f"{PLUGIN_KEY}:{self.name}"


class PlexSettings(PluginSettings):
    """Settings of the Plex plugin.

    ``client_identifier`` is the ``X-Plex-Client-Identifier`` this hub presents to plex.tv
    and to servers; plex.tv lists it among each person's authorized devices, so it must stay
    the same across restarts and replicas. When it is not set it is derived as
    ``uuid5(NAMESPACE_URL, "medianest-plex|<plextv_url>|<name>=<url>,...")`` over the sorted
    configured servers: stable for a given configuration, different between hubs. Set it
    explicitly to keep it when servers are renamed or moved.
    """

    servers: list[ServerSettings] = Field(default_factory=list)
    plextv_url: str = Field(default=DEFAULT_PLEXTV_URL, description="base URL of plex.tv")
    auth_app_url: str = Field(default=DEFAULT_AUTH_APP_URL, description="Plex's sign-in page")
    plextv_timeout: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=120)
    client_identifier: str = Field(default="", max_length=100)
    product: str = Field(default=DEFAULT_PRODUCT, min_length=1, max_length=100)
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="path secret of the webhook URL /api/v1/plugins/plex/webhook/<secret>",
    )
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    changes_overlap_seconds: int = Field(default=DEFAULT_CHANGES_OVERLAP_SECONDS, ge=0, le=86_400)

    @field_validator("plextv_url")
    @classmethod
    def _check_plextv_url(cls, value: str) -> str:
        return _http_url(value, "plextv_url")

    @field_validator("auth_app_url")
    @classmethod
    def _check_auth_app_url(cls, value: str) -> str:
        return _http_url(value, "auth_app_url")

    @field_validator("client_identifier")
    @classmethod
    def _check_client_identifier(cls, value: str) -> str:
        value = value.strip()
        if value and not value.isprintable():
            raise ValueError("client_identifier must be printable text")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if len(secret) < WEBHOOK_SECRET_MIN_LENGTH:
            raise ValueError(
                f"webhook_secret must be at least {WEBHOOK_SECRET_MIN_LENGTH} characters long"
            )
        if not all(ch.isascii() and (ch.isalnum() or ch in "-_.~") for ch in secret):
            raise ValueError(
                "webhook_secret may only contain letters, digits and - _ . ~ (it is part of a URL)"
            )
        return value

    @model_validator(mode="after")
    def _check_servers_and_derive_identifier(self) -> PlexSettings:
        seen: set[str] = set()
        for server in self.servers:
            if server.name in seen:
                raise ValueError(f"two servers are named {server.name!r}; names must be unique")
            seen.add(server.name)
        if not self.client_identifier:
            object.__setattr__(self, "client_identifier", self._derived_client_identifier())
        return self

    def _derived_client_identifier(self) -> str:
        servers = ",".join(sorted(f"{s.name}={s.url}" for s in self.servers))
        basis = f"{CLIENT_IDENTIFIER_NAMESPACE}|{self.plextv_url}|{servers}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, basis))

    def server(self, name: str) -> ServerSettings | None:
        """The server named ``name``, if configured."""
        return next((s for s in self.servers if s.name == name), None)
