"""Loading settings from the TOML file, the environment and the secrets directory.

:func:`load_settings` is the one way in; it raises :class:`SettingsError` whose message names
every bad value by its dotted path, its environment variable and the problem.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    TomlConfigSettingsSource,
)

from medianest.config.settings import ENV_DELIMITER, ENV_PREFIX, Settings
from medianest.sdk.errors import SettingsError

CONFIG_FILE_ENV = f"{ENV_PREFIX}CONFIG"
SECRETS_DIR_ENV = f"{ENV_PREFIX}SECRETS_DIR"
DEFAULT_CONFIG_FILE = Path("medianest.toml")
DEFAULT_SECRETS_DIR = Path("/run/secrets")

_URL_PASSWORD = re.compile(r"//([^:/@\s]*):[^@/\s]*@")

_config_file: ContextVar[Path | None] = ContextVar("medianest_config_file", default=None)
_secrets_dir: ContextVar[Path | None] = ContextVar("medianest_secrets_dir", default=None)


def env_name(path: tuple[str | int, ...]) -> str:
    """The environment variable that sets the value at ``path`` (``MEDIANEST_SERVER__PORT``).

    A value inside a list has no variable of its own: the list's variable is named, followed
    by ``as JSON`` (``MEDIANEST_PLUGINS__PLEX__SERVERS as JSON``), since lists are set whole.
    """
    parts: list[str] = []
    for part in path:
        if isinstance(part, int):
            return ENV_PREFIX + ENV_DELIMITER.join(parts) + " as JSON"
        parts.append(part.upper())
    return ENV_PREFIX + ENV_DELIMITER.join(parts)


def describe_errors(exc: ValidationError, *, prefix: tuple[str | int, ...] = ()) -> list[str]:
    """One readable line per pydantic error: dotted path, environment variable, problem."""
    lines = []
    for error in exc.errors(include_url=False):
        path = (*prefix, *error["loc"])
        dotted = ".".join(str(p) for p in path) or "(settings)"
        given = error.get("input")
        shown = ""
        if error["type"] not in {"missing", "extra_forbidden"} and isinstance(
            given, str | int | float | bool
        ):
            # Plugin sections may hold secrets under any name: their values are never echoed.
            secretish = path[:1] == ("plugins",) or any(
                w in dotted.lower() for w in ("token", "secret", "key", "password")
            )
            masked = _URL_PASSWORD.sub(r"//\1:***@", given) if isinstance(given, str) else given
            shown = "" if secretish else f" (got {masked!r})"
        if error["type"] == "extra_forbidden":
            message = "is not a known setting"
        else:
            message = error["msg"]
        lines.append(f"{dotted} [{env_name(path)}]: {message}{shown}")
    return lines


class _Sources:
    """The settings sources, in priority order, for the file and secrets in context."""

    @staticmethod
    def build(
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        secrets_dir = _secrets_dir.get()
        if secrets_dir is not None and secrets_dir.is_dir():
            sources.append(
                SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir, env_prefix="")
            )
        config_file = _config_file.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


def _customise(
    cls: type[BaseSettings],
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    env_settings: PydanticBaseSettingsSource,
    dotenv_settings: PydanticBaseSettingsSource,
    file_secret_settings: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, ...]:
    return _Sources.build(settings_cls, init_settings, env_settings)


Settings.settings_customise_sources = classmethod(_customise)  # type: ignore[method-assign, assignment]


def resolve_config_file(
    config_file: str | Path | None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The TOML file to read: the argument, ``$MEDIANEST_CONFIG``, or ``./medianest.toml``.

    :raises SettingsError: a file named explicitly does not exist.
    """
    environ = os.environ if environ is None else environ
    named = config_file or environ.get(CONFIG_FILE_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise SettingsError([f"the config file {str(path)!r} does not exist"])
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


_NOT_SETTINGS = {CONFIG_FILE_ENV, SECRETS_DIR_ENV}
_NOT_SETTINGS_PREFIXES = (f"{ENV_PREFIX}TEST_", f"{ENV_PREFIX}DEMO_")
"""Variables of the test suite and of the simulators ``medianest demo`` runs, not settings."""


def unknown_environment_variables(environ: Mapping[str, str]) -> list[str]:
    """``MEDIANEST_*`` variables that set nothing: a typo would otherwise pass silently."""
    fields = {name.upper() for name in Settings.model_fields}
    unknown = []
    for name in environ:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in _NOT_SETTINGS:
            continue
        if upper.startswith(_NOT_SETTINGS_PREFIXES):
            continue
        top = upper[len(ENV_PREFIX) :].split(ENV_DELIMITER, 1)[0]
        if top not in fields:
            unknown.append(name)
    return sorted(unknown)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the settings from every source and validate them.

    :param config_file: the TOML file; default ``$MEDIANEST_CONFIG`` or ``./medianest.toml``.
    :param overrides: values that win over every source (nested sections as dicts).
    :raises SettingsError: naming each bad value and the variable that sets it.
    """
    path = resolve_config_file(config_file)
    if path is not None:
        try:
            with path.open("rb") as handle:
                tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError([f"{path} is not valid TOML: {exc}"]) from exc
        except OSError as exc:
            raise SettingsError([f"cannot read {path}: {exc.strerror}"]) from exc
    unknown = unknown_environment_variables(os.environ)
    if unknown:
        raise SettingsError([f"{name} is not a known setting" for name in unknown])
    secrets_dir = Path(os.environ.get(SECRETS_DIR_ENV, DEFAULT_SECRETS_DIR))
    file_token = _config_file.set(path)
    secrets_token = _secrets_dir.set(secrets_dir)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc), source=str(path) if path else None) from exc
    finally:
        _config_file.reset(file_token)
        _secrets_dir.reset(secrets_token)
