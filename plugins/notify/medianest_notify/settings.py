"""The ``[plugins.notify]`` settings: admin channels, webhook rules and the mail server.

Example ``medianest.toml``::

    [plugins.notify.apprise]
    admin_urls = ["discord://webhook_id/webhook_token", "ntfy://ntfy.sh/medianest-admins"]

    [plugins.notify.webhook]
    allow_private_destinations = false
    admin_webhooks = [{ url = "https://hooks.example.org/medianest", secret = "..." }]

    [plugins.notify.email]
    host = "smtp.example.org"
    tls = "starttls"
    username = "medianest"
    password = "..."
    from_address = "medianest@example.org"
    admin_addresses = ["admins@example.org"]

Every value is checked at boot (and by ``medianest config check``); a bad one stops the hub
with a message naming it (``plugins.notify.apprise.admin_urls.1``), never echoing a secret.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from medianest.sdk import InvalidInputError, PluginSettings
from medianest_notify import apprise_urls
from medianest_notify.addresses import check_email
from medianest_notify.const import DEFAULT_TIMEOUT_SECONDS
from medianest_notify.destinations import parse_url
from medianest_notify.template import parse_template


def _apprise_url(value: SecretStr) -> SecretStr:
    try:
        apprise_urls.check(value.get_secret_value(), field="url")
    except InvalidInputError as exc:
        raise ValueError(exc.message) from None
    return SecretStr(value.get_secret_value().strip())


def _email(value: str) -> str:
    try:
        return check_email(value)
    except InvalidInputError as exc:
        raise ValueError(exc.message) from None


AppriseUrl = Annotated[SecretStr, AfterValidator(_apprise_url)]
EmailAddress = Annotated[str, AfterValidator(_email)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppriseSettings(_Section):
    """The Apprise notifier: the admins' channels and how long a delivery may take."""

    admin_urls: list[AppriseUrl] = Field(
        default_factory=list,
        description="Apprise URLs the admin channel delivers to (secrets: they hold tokens)",
    )
    timeout: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=14)
    attach_images: bool = Field(
        default=False,
        description="attach the notification's picture where the service takes attachments "
        "(a picture that cannot be fetched then fails the delivery, which is retried)",
    )


class WebhookTarget(_Section):
    """One webhook the admin channel posts to (set by whoever runs the hub, so it may point at
    the hub's own network)."""

    url: SecretStr = Field(description="http(s) URL; secret, as it often holds a token")
    template: str | None = Field(default=None, description="JSON template; default: built in")
    secret: SecretStr | None = Field(default=None, description="HMAC-SHA256 signing key")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        try:
            parse_url(value.get_secret_value().strip(), field="url")
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("template")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_template(value, field="template")
            except InvalidInputError as exc:
                raise ValueError(exc.message) from None
        return value


class WebhookSettings(_Section):
    """The webhook notifier."""

    allow_private_destinations: bool = Field(
        default=False,
        description="let people's webhooks reach loopback, private and link-local addresses",
    )
    admin_webhooks: list[WebhookTarget] = Field(default_factory=list)
    default_template: str | None = Field(
        default=None, description="JSON template for destinations without one of their own"
    )
    timeout: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=14)
    verify_tls: bool = Field(default=True, description="check receivers' TLS certificates")

    @field_validator("default_template")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_template(value, field="default_template")
            except InvalidInputError as exc:
                raise ValueError(exc.message) from None
        return value


class TlsMode(StrEnum):
    """How the connection to the mail server is protected."""

    NONE = "none"
    """Plain SMTP (a relay on the same host or network)."""
    STARTTLS = "starttls"
    """Plain connection upgraded with STARTTLS (usually port 587); refused if not offered."""
    TLS = "tls"
    """TLS from the first byte (usually port 465)."""


DEFAULT_PORTS = {TlsMode.NONE: 25, TlsMode.STARTTLS: 587, TlsMode.TLS: 465}


class EmailSettings(_Section):
    """The email notifier; off while ``host`` is not set."""

    host: str | None = Field(default=None, description="the SMTP server's host name or address")
    port: int | None = Field(default=None, ge=1, le=65_535, description="default: by tls")
    tls: TlsMode = TlsMode.STARTTLS
    username: str | None = Field(default=None, min_length=1)
    password: SecretStr | None = None
    from_address: EmailAddress | None = None
    from_name: str = Field(default="MediaNest", min_length=1, max_length=100)
    admin_addresses: list[EmailAddress] = Field(default_factory=list)
    timeout: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=14)
    verify_tls: bool = Field(default=True, description="check the server's TLS certificate")
    ca_file: str | None = Field(
        default=None, description="a PEM file of certificates to trust (a private CA)"
    )

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value or any(c.isspace() or c in "/@?#" for c in value):
            raise ValueError("must be a bare host name or address (smtp.example.org)")
        return value

    @field_validator("from_name")
    @classmethod
    def _check_from_name(cls, value: str) -> str:
        if any(ord(c) < 32 for c in value):
            raise ValueError("must not contain control characters")
        return value

    @model_validator(mode="after")
    def _complete(self) -> EmailSettings:
        if self.host is None:
            if self.admin_addresses or self.from_address or self.username:
                raise ValueError("host is required once email is configured (the SMTP server)")
            return self
        if self.from_address is None:
            raise ValueError("from_address is required when host is set (the sender's address)")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both or neither")
        return self

    @property
    def enabled(self) -> bool:
        """Whether a mail server is configured."""
        return self.host is not None

    @property
    def effective_port(self) -> int:
        """``port``, or the usual one for the TLS mode."""
        return self.port or DEFAULT_PORTS[self.tls]


class NotifySettings(PluginSettings):
    """Settings of the notify plugin: one section per notifier."""

    apprise: AppriseSettings = Field(default_factory=AppriseSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)


def shown(settings: NotifySettings) -> dict[str, Any]:
    """A summary safe to log: what is configured, no secrets."""
    return {
        "apprise_admin_channels": len(settings.apprise.admin_urls),
        "admin_webhooks": len(settings.webhook.admin_webhooks),
        "private_webhooks_allowed": settings.webhook.allow_private_destinations,
        "email": f"{settings.email.host}:{settings.email.effective_port} ({settings.email.tls})"
        if settings.email.enabled
        else "off",
    }
