"""MediaNest configuration: settings model, sources and validation."""

from medianest.config.loader import describe_errors, env_name, load_settings
from medianest.config.settings import Settings
from medianest.sdk.errors import SettingsError

__all__ = ["Settings", "SettingsError", "describe_errors", "env_name", "load_settings"]
