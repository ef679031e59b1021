"""MediaNest's settings: one pydantic-settings model, nested by concern.

Sources, highest priority first: keyword overrides (tests, CLI flags), environment variables
(``MEDIANEST_`` prefix, ``__`` between levels: ``MEDIANEST_SERVER__PORT=9000``), files in the
secrets directory (Docker secrets, one value per file named like the setting, e.g.
``database_url``), the TOML file (``medianest.toml``), then defaults.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MEDIANEST_"
ENV_DELIMITER = "__"
SECRET_KEY_MIN_LENGTH = 32


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    """Where and how ``medianest serve`` listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="hypercorn worker processes")
    public_url: str | None = Field(
        default=None,
        description="the URL people open (http(s)://name[:port][/path]); defines the hub's "
        "origin for redirects and sign-in",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="host names people reach the hub by besides public_url's and loopback; "
        "a request to any other Host gets 400",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="largest request body")
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="proxies whose X-Forwarded-For is believed (addresses or CIDR networks)",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="origins other web apps may call the API from (none by default)",
    )
    drain_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="on SIGTERM, how long requests in flight may finish before the process exits",
    )
    drain_notice_seconds: float = Field(
        default=0.0,
        ge=0,
        le=300,
        description="on SIGTERM, how long readiness fails while requests are still served, "
        "before the replica stops accepting (time for a load balancer to notice)",
    )

    @field_validator("public_url")
    @classmethod
    def _plain_public_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError as exc:
            raise ValueError(f"{url!r} is not a URL like https://media.example.org") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(f"{url!r} is not a URL like https://media.example.org")
        return url.rstrip("/")

    @field_validator("allowed_hosts")
    @classmethod
    def _plain_hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not re.fullmatch(r"\[?[A-Za-z0-9.:-]+\]?", host):
                raise ValueError(f"{host!r} is not a host name like media.example.org")
        return hosts

    @field_validator("cors_origins")
    @classmethod
    def _plain_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            scheme, _, rest = origin.partition("://")
            if scheme not in ("http", "https") or not rest or "/" in rest:
                raise ValueError(f"{origin!r} is not an origin like https://app.example.org")
        return origins


class LogSettings(_Section):
    """Logging: JSON lines when not on a terminal, readable console output when on one."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class JobSettings(_Section):
    """Background jobs (the in-process runner and ARQ workers alike)."""

    concurrency: int = Field(default=8, ge=1, le=1000)
    heartbeat_seconds: float = Field(
        default=10.0, gt=0, le=300, description="how often each ARQ worker writes its heartbeat"
    )
    worker_silent_after_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="a worker whose last heartbeat is older is reported as stuck or gone",
    )
    shutdown_grace_seconds: int = Field(
        default=25,
        ge=0,
        le=3600,
        description="on SIGTERM, how long an ARQ worker lets its running jobs finish before it "
        "puts them back on the queue for another worker",
    )

    @model_validator(mode="after")
    def _silent_after_a_missed_beat(self) -> JobSettings:
        if self.worker_silent_after_seconds <= self.heartbeat_seconds:
            raise ValueError(
                f"worker_silent_after_seconds ({self.worker_silent_after_seconds:g}) must be "
                f"longer than heartbeat_seconds ({self.heartbeat_seconds:g}), or every worker "
                "would be reported silent between two beats"
            )
        return self


class AuthSettings(_Section):
    """Sessions, tokens and sign-in protection."""

    access_token_minutes: int = Field(default=15, ge=1, le=60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto", description="Secure cookies: auto = when the request came over HTTPS"
    )
    lockout_attempts: int = Field(
        default=5, ge=1, le=100, description="failed sign-ins in a row..."
    )
    lockout_minutes: int = Field(default=15, ge=1, le=1440, description="...before this lockout")
    username_attempts: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="failed sign-ins for one username, from any address, within "
        "username_pause_seconds...",
    )
    username_pause_seconds: int = Field(
        default=60, ge=1, le=3600, description="...pause that username's sign-ins this long"
    )


class RateLimitRule(_Section):
    """At most ``limit`` calls per ``window_seconds``."""

    limit: int = Field(ge=1)
    window_seconds: float = Field(gt=0, le=86_400)


class SignInLimit(RateLimitRule):
    """Sign-in attempts per client IP."""

    limit: int = Field(default=10, ge=1)
    window_seconds: float = Field(default=60, gt=0, le=86_400)


class ApiLimit(RateLimitRule):
    """API calls per user (per client IP when anonymous)."""

    limit: int = Field(default=300, ge=1)
    window_seconds: float = Field(default=60, gt=0, le=86_400)


class RequestCreationLimit(RateLimitRule):
    """Media requests created per user."""

    limit: int = Field(default=20, ge=1)
    window_seconds: float = Field(default=3600, gt=0, le=86_400)


class RateLimitSettings(_Section):
    """Limits per client IP (anonymous) and per user, shared by every replica."""

    enabled: bool = True
    sign_in: SignInLimit = SignInLimit()
    api: ApiLimit = ApiLimit()
    requests: RequestCreationLimit = RequestCreationLimit()


class SyncSchedule(_Section):
    """When a media source's library is synced on its own."""

    incremental_minutes: int = Field(
        default=5, ge=0, le=1440, description="minutes between incremental syncs; 0 turns them off"
    )
    full_daily_at: time | None = Field(
        default=time(4, 0),
        description="UTC time of the daily full sync (HH:MM); empty turns it off",
    )

    @field_validator("full_daily_at", mode="before")
    @classmethod
    def _empty_is_off(cls, value: Any) -> Any:
        return None if value in ("", "off") else value


class SyncSettings(SyncSchedule):
    """Library syncs: schedules (overridable per source), batching and safety limits."""

    sources: dict[str, SyncSchedule] = Field(
        default_factory=dict, description="per media source id (plex:home): its own schedule"
    )
    page_size: int = Field(default=1000, ge=10, le=5000, description="items asked per page")
    batch_size: int = Field(
        default=2000, ge=10, le=50_000, description="items written per transaction"
    )
    page_retries: int = Field(
        default=5, ge=0, le=20, description="retries of a failed page before the run fails"
    )
    retry_base_seconds: float = Field(
        default=1.0, ge=0, le=300, description="first retry delay, doubled at each retry"
    )
    page_timeout_seconds: float = Field(
        default=120, gt=0, le=3600, description="a page taking longer counts as failed"
    )
    lease_seconds: float = Field(
        default=120, ge=1, le=86_400, description="a run silent this long is taken over"
    )
    max_delete_fraction: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="a full sync refuses to delete more than this share of a source's items",
    )
    keep_runs_days: int = Field(
        default=30, ge=1, le=3650, description="finished runs older than this are pruned"
    )

    def schedule_for(self, source: str) -> SyncSchedule:
        """The schedule of ``source``: what its own section sets, the ``[sync]`` values else."""
        schedule = SyncSchedule(
            incremental_minutes=self.incremental_minutes, full_daily_at=self.full_daily_at
        )
        own = self.sources.get(source)
        if own is None:
            return schedule
        return schedule.model_copy(update=own.model_dump(exclude_unset=True))


class LiveSourceSettings(_Section):
    """How one live-searched source is asked: its own timeout and cache lifetime."""

    timeout_seconds: float | None = Field(
        default=None, gt=0, le=60, description="a search taking longer is given up (timeout)"
    )
    cache_ttl_seconds: float | None = Field(
        default=None, ge=0, le=86_400, description="how long its answers are reused; 0: never"
    )


class SearchSettings(_Section):
    """Unified search: live sources' timeouts, cache and circuit breaker.

    ``timeout_seconds`` and ``cache_ttl_seconds`` apply to every live source unless its own
    section under ``sources`` (keyed by source id) sets them.
    """

    timeout_seconds: float = Field(
        default=2.0, gt=0, le=60, description="a live source taking longer is given up"
    )
    cache_ttl_seconds: float = Field(
        default=300, ge=0, le=86_400, description="how long a live source's answers are reused"
    )
    live_limit: int = Field(
        default=50, ge=1, le=100, description="results asked of each live source per query"
    )
    breaker_failures: int = Field(
        default=5, ge=1, le=1000, description="failures in a row that open a source's circuit"
    )
    breaker_reset_seconds: float = Field(
        default=30, gt=0, le=3600, description="how long an open circuit waits before a trial"
    )
    cache_max_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="embedded mode: the most the in-process cache holds (oldest entries go)",
    )
    sources: dict[str, LiveSourceSettings] = Field(
        default_factory=dict, description="per live source id (youtube): its own timeout and TTL"
    )

    def timeout_for(self, source: str) -> float:
        """The search timeout of ``source``."""
        own = self.sources.get(source)
        value = own.timeout_seconds if own is not None else None
        return self.timeout_seconds if value is None else value

    def ttl_for(self, source: str) -> float:
        """The cache lifetime of ``source``'s answers (0: not cached)."""
        own = self.sources.get(source)
        value = own.cache_ttl_seconds if own is not None else None
        return self.cache_ttl_seconds if value is None else value


class HealthSettings(_Section):
    """Readiness checks."""

    check_timeout_seconds: float = Field(default=3.0, gt=0, le=60)


class EventSettings(_Section):
    """Domain events: buffered off the request path, handed to analytics sinks in batches."""

    batch_size: int = Field(default=100, ge=1, le=10_000, description="events per sink call")
    flush_seconds: float = Field(
        default=1.0, gt=0, le=300, description="a partial batch waits at most this long"
    )
    max_buffered: int = Field(
        default=10_000, ge=1, le=1_000_000, description="oldest events dropped beyond this"
    )
    sink_attempts: int = Field(
        default=3, ge=1, le=20, description="tries per batch and sink before it is dropped"
    )
    sink_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    retry_seconds: float = Field(
        default=0.5, ge=0, le=60, description="first back-off between tries; doubles each time"
    )


class RequestQuota(_Section):
    """At most ``limit`` requests per ``days`` days for one person (``limit`` 0: unlimited)."""

    limit: int = Field(default=0, ge=0, le=10_000, description="requests per period; 0: no limit")
    days: int = Field(default=7, ge=1, le=365, description="the period, in days")


def _default_quotas() -> dict[Literal["movie", "show"], RequestQuota]:
    return {"movie": RequestQuota(), "show": RequestQuota()}


class RequestSettings(_Section):
    """Media requests: quotas and how long a request backend may take."""

    quota: dict[Literal["movie", "show"], RequestQuota] = Field(
        default_factory=_default_quotas,
        description="each person's default quota per kind (an admin may set one per person)",
    )
    backend_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="longest wait for a request backend's answer"
    )
    default_backend: str | None = Field(
        default=None,
        description="the request backend used when a request names none (default: the only one)",
    )
    reconcile_minutes: int = Field(
        default=5,
        ge=0,
        le=60,
        description="how often every backend's requests are compared with the hub's, in "
        "minutes past the hour (catches missed webhooks); 0: never",
    )

    @field_validator("quota")
    @classmethod
    def _both_kinds(
        cls, value: dict[Literal["movie", "show"], RequestQuota]
    ) -> dict[Literal["movie", "show"], RequestQuota]:
        return {"movie": RequestQuota(), "show": RequestQuota(), **value}


class NotificationSettings(_Section):
    """Notifications: routing, grouping, delivery and its limits."""

    group_window_seconds: float = Field(
        default=600.0,
        ge=0,
        le=86_400,
        description="notifications of one kind about one thing within this window merge into "
        "one (0: never merge)",
    )
    source_down_minutes: float = Field(
        default=5.0,
        gt=0,
        le=1440,
        description="admins hear of a source down this long, and again when it is back",
    )
    delivery_attempts: int = Field(
        default=5, ge=1, le=20, description="tries per delivery before it is dead-lettered"
    )
    retry_base_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="first back-off between tries; doubles each time"
    )
    retry_max_seconds: float = Field(default=600.0, gt=0, le=86_400)
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="a delivery claimed by a worker that died is tried again after this",
    )
    send_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    destination_limit: int = Field(
        default=30,
        ge=1,
        le=100_000,
        description="deliveries per destination per window; more wait, none is dropped",
    )
    destination_window_seconds: float = Field(default=60.0, gt=0, le=86_400)


class Settings(BaseSettings):
    """Every setting of the hub. Plugin sections are validated by their plugins at boot."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    data_dir: Path = Field(default=Path("data"), description="where the embedded database lives")
    database_url: str | None = Field(
        default=None,
        description="sqlite:///path or postgres://user:pass@host/db (default: SQLite in data_dir)",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db (rediss:// for TLS, redis+sentinel://s1:26379,"
        "s2:26379/master/db through Sentinel); set it to run scaled (shared state, ARQ)",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "encrypts secrets at rest (at least 32 characters); required when scaled, "
            "generated into data_dir/secret_key when embedded"
        ),
    )
    previous_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        description="keys secret_key replaced: still accepted for reading until rotated away",
    )
    server: ServerSettings = ServerSettings()
    auth: AuthSettings = AuthSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    log: LogSettings = LogSettings()
    jobs: JobSettings = JobSettings()
    health: HealthSettings = HealthSettings()
    sync: SyncSettings = SyncSettings()
    search: SearchSettings = SearchSettings()
    events: EventSettings = EventSettings()
    requests: RequestSettings = RequestSettings()
    notifications: NotificationSettings = NotificationSettings()
    features: dict[str, bool] = Field(
        default_factory=dict,
        description="boot flags: plugin key → load it (bundled plugins default on, others off)",
    )
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="one section per plugin key, validated by the plugin"
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in {"sqlite", "postgres", "postgresql", "asyncpg"}:
            raise ValueError(
                "must start with sqlite://, postgres:// or postgresql:// "
                f"(got scheme {scheme or 'none'!r})"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        schemes = ("redis://", "rediss://", "unix://", "redis+sentinel://", "rediss+sentinel://")
        if value is not None and not value.startswith(schemes):
            raise ValueError(
                "must start with redis://, rediss://, unix://, redis+sentinel:// or "
                "rediss+sentinel://"
            )
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < SECRET_KEY_MIN_LENGTH:
            raise ValueError(f"must be at least {SECRET_KEY_MIN_LENGTH} characters long")
        return value

    @model_validator(mode="after")
    def _plugin_keys(self) -> Settings:
        for key in (*self.features, *self.plugins):
            if not key.replace("_", "").replace("-", "").isalnum() or not key[:1].isalpha():
                raise ValueError(f"{key!r} is not a plugin key (letters, digits, - and _)")
        return self

    @property
    def mode(self) -> Literal["embedded", "scaled"]:
        """``scaled`` when Redis is configured, else ``embedded``."""
        return "scaled" if self.redis_url else "embedded"

    @property
    def effective_database_url(self) -> str:
        """The database to use: ``database_url``, or a SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'medianest.sqlite3').resolve()}"
