"""MediaNest's settings: one pydantic-settings model, nested by concern.

Sources, highest priority first: keyword overrides (tests, CLI flags), environment variables
(``MEDIANEST_`` prefix, ``__`` between levels: ``MEDIANEST_SERVER__PORT=9000``), files in the
secrets directory (Docker secrets, one value per file named like the setting, e.g.
``database_url``), the TOML file (``medianest.toml``), then defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
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
        default=None, description="the URL people open, when behind a proxy (used in redirects)"
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="largest request body")


class LogSettings(_Section):
    """Logging: JSON lines when not on a terminal, readable console output when on one."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class JobSettings(_Section):
    """Background jobs (the in-process runner and ARQ workers alike)."""

    concurrency: int = Field(default=8, ge=1, le=1000)


class HealthSettings(_Section):
    """Readiness checks."""

    check_timeout_seconds: float = Field(default=3.0, gt=0, le=60)


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
        default=None, description="redis://host:port/db; set it to run scaled (shared state, ARQ)"
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "encrypts secrets at rest (at least 32 characters); required when scaled, "
            "generated into data_dir/secret_key when embedded"
        ),
    )
    server: ServerSettings = ServerSettings()
    log: LogSettings = LogSettings()
    jobs: JobSettings = JobSettings()
    health: HealthSettings = HealthSettings()
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
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
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
