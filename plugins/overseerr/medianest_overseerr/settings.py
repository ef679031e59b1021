"""The ``[plugins.overseerr]`` settings: the Overseerr (or Jellyseerr) instances this hub uses.

Example ``medianest.toml``::

    [[plugins.overseerr.instances]]
    name = "home"
    url = "http://192.168.1.10:5055"
    api_key = "the key from Overseerr's Settings > General"
    webhook_secret = "a-long-random-string, also pasted as Overseerr's webhook Authorization header"
    create_missing_users = false

Each instance is the request backend and the live-search media source ``overseerr:<name>``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from medianest.sdk import PluginSettings
from medianest_overseerr.const import DEFAULT_TIMEOUT_SECONDS, PLUGIN_KEY

INSTANCE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
WEBHOOK_SECRET_MIN_LENGTH = 16
API_PATH = "/api/v1"


def _http_url(value: str, what: str) -> str:
    """``value`` without a trailing slash, or ``ValueError`` saying why it is not usable."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what} must be an http:// or https:// URL with a host, got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must not carry a query string or fragment, got {value!r}")
    return value.rstrip("/")


class InstanceSettings(BaseModel):
    """One Overseerr or Jellyseerr server, registered as ``overseerr:<name>``.

    ``url`` is where Overseerr answers (``http://host:5055``; a trailing ``/api/v1`` is
    accepted and dropped). ``api_key`` authenticates as Overseerr's admin; the plugin uses it
    to find people's Overseerr accounts and acts as each person with ``X-Api-User``.
    ``webhook_secret`` is the value Overseerr's webhook agent sends in its ``Authorization``
    header. With ``create_missing_users`` a person with no Overseerr account gets one (from
    their email) the first time they request something.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=INSTANCE_NAME_PATTERN,
        description="instance key (lowercase letters, digits, - and _); id overseerr:<name>",
    )
    url: str = Field(description="base URL of Overseerr, e.g. http://192.168.1.10:5055")
    api_key: SecretStr = Field(description="Overseerr's API key (Settings > General)")
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="the Authorization header value Overseerr's webhook agent sends",
    )
    create_missing_users: bool = Field(
        default=False, description="create an Overseerr user for a person who has none"
    )
    timeout: float = Field(
        default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=120, description="seconds per request"
    )
    verify_tls: bool = Field(default=True, description="check the server's TLS certificate")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        url = _http_url(value, "url")
        return url[: -len(API_PATH)] if url.endswith(API_PATH) else url

    @field_validator("api_key")
    @classmethod
    def _check_api_key(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if not key.strip():
            raise ValueError("api_key is empty")
        if not key.isascii() or not key.isprintable():
            raise ValueError("api_key must be printable ASCII (it travels in a header)")
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
        if not secret.isascii() or not secret.isprintable():
            raise ValueError("webhook_secret must be printable ASCII (it travels in a header)")
        return value

    @property
    def provider_id(self) -> str:
        """The request backend and media source id of this instance: ``overseerr:<name>``."""
        return f"{PLUGIN_KEY}:{self.name}"

    @property
    def api_url(self) -> str:
        """The base of Overseerr's API (``<url>/api/v1``)."""
        return f"{self.url}{API_PATH}"


class OverseerrSettings(PluginSettings):
    """Settings of the Overseerr plugin: the instances, each with its own key and secret."""

    instances: list[InstanceSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_unique_names(self) -> OverseerrSettings:
        seen: set[str] = set()
        for instance in self.instances:
            if instance.name in seen:
                raise ValueError(
                    f"two Overseerr instances are named {instance.name!r}; names must be unique"
                )
            seen.add(instance.name)
        return self

    def instance(self, name: str) -> InstanceSettings | None:
        """The instance named ``name``, if configured."""
        return next((i for i in self.instances if i.name == name), None)
