"""The errors plugins raise and core translates.

Plugins raise these; only core maps them to HTTP responses (see ``medianest.core.problems``).
Every error carries a stable machine ``code`` and, when raised on behalf of a plugin, the
plugin ``key``. Messages never carry secrets.
"""

from __future__ import annotations


class MediaNestError(Exception):
    """Base of every error MediaNest and its plugins raise on purpose.

    :param message: what went wrong, for a person; no secrets.
    :param plugin: the key of the plugin the error concerns, if any.
    """

    code: str = "medianest_error"

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.plugin = plugin

    def __str__(self) -> str:
        return f"[{self.plugin}] {self.message}" if self.plugin else self.message


class ConfigurationError(MediaNestError):
    """Settings or a plugin's registration are wrong; raised at boot."""

    code = "configuration_error"


class PluginError(ConfigurationError):
    """A plugin failed to load, validate or register what it provides."""

    code = "plugin_error"


class SettingsError(ConfigurationError):
    """The settings are invalid, so the hub does not boot; ``problems`` lists one line per bad
    value (its dotted path, its environment variable and what is wrong). This is what a hub
    started with bad plugin settings raises (``medianest_hub.run(...)`` in tests)."""

    code = "invalid_settings"

    def __init__(self, problems: list[str], *, source: str | None = None) -> None:
        where = f" ({source})" if source else ""
        super().__init__(f"invalid settings{where}:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


class InvalidInputError(MediaNestError):
    """A caller sent something that cannot be accepted.

    :param field: the offending parameter or field, when one is to blame.
    """

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None, plugin: str | None = None):
        super().__init__(message, plugin=plugin)
        self.field = field


class NotFoundError(MediaNestError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    code = "not_found"


class ConflictError(MediaNestError):
    """The action conflicts with the current state (a duplicate, a run already going)."""

    code = "conflict"


class AccountNotLinkedError(ConflictError):
    """The person has no account on the service a provider acts on (an Overseerr user matching
    their Plex account or email), so the provider cannot act as them. The message names the
    service; core answers 409 with it."""

    code = "account_not_linked"


class AuthenticationError(MediaNestError):
    """Sign-in failed or was refused; the message says why in terms safe to show."""

    code = "authentication_failed"


class PermissionDeniedError(MediaNestError):
    """The caller is known but may not do this.

    :param permission: the permission that was missing, when one is.
    """

    code = "permission_denied"

    def __init__(self, message: str, *, permission: str | None = None, plugin: str | None = None):
        super().__init__(message, plugin=plugin)
        self.permission = permission


class RateLimitedError(MediaNestError):
    """Too many calls; try again after ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(
        self, message: str, *, retry_after: float | None = None, plugin: str | None = None
    ):
        super().__init__(message, plugin=plugin)
        self.retry_after = retry_after


class UpstreamError(MediaNestError):
    """An external service failed or answered something unusable.

    :param source: the provider id (``plex:home``) or service the call went to.
    :param status: the upstream HTTP status, when there was one.
    """

    code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        status: int | None = None,
        plugin: str | None = None,
    ) -> None:
        super().__init__(message, plugin=plugin)
        self.source = source
        self.status = status


class UpstreamTimeoutError(UpstreamError):
    """An external service did not answer in time."""

    code = "upstream_timeout"


class UpstreamUnreachableError(UpstreamError):
    """An external service could not be reached: connection refused, a name that does not
    resolve, a failed TLS handshake, a connection dropped before an answer."""

    code = "upstream_unreachable"


class UpstreamAuthError(UpstreamError):
    """An external service refused our credentials (a revoked token, a bad key)."""

    code = "upstream_auth"


class UpstreamRateLimitedError(UpstreamError):
    """An external service asked us to slow down (HTTP 429, a spent quota)."""

    code = "upstream_rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        source: str | None = None,
        status: int | None = None,
        plugin: str | None = None,
    ) -> None:
        super().__init__(message, source=source, status=status, plugin=plugin)
        self.retry_after = retry_after


class UpstreamDataError(UpstreamError):
    """An external service answered, but with a body that does not parse or validate."""

    code = "upstream_bad_data"
