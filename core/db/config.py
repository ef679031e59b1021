"""The tortoise configuration of a hub: core's app plus one app per plugin.

``TORTOISE_ORM`` is core's configuration on an in-memory SQLite database, for tortoise's own
command line: ``python -m tortoise -c medianest.core.db.config.TORTOISE_ORM makemigrations core``
writes a new core migration after a change to :mod:`medianest.core.db.models`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from medianest.sdk.errors import PluginError
from medianest.sdk.persistence import DatabaseModels

CORE_APP = "core"
CORE_MODELS = DatabaseModels(
    models=("medianest.core.db.models",), migrations="medianest.core.db.migrations"
)
DEFAULT_CONNECTION = "default"

_APP_LABEL = re.compile(r"^[a-z][a-z0-9_]*$")
_NO_PLUGINS: Mapping[str, DatabaseModels] = MappingProxyType({})


def apps_config(
    plugin_models: Mapping[str, DatabaseModels] = _NO_PLUGINS,
    *,
    connection: str = DEFAULT_CONNECTION,
) -> dict[str, dict[str, Any]]:
    """Tortoise's ``apps`` section: ``core`` first, then one app per plugin key.

    :param connection: the name of the connection every app uses.

    :raises PluginError: a plugin key that cannot be an app label (letters, digits and ``_``,
        starting with a letter; ``-`` is read as ``_``), that collides with ``core`` or with
        another plugin's, or models without a migrations package.
    """
    apps: dict[str, dict[str, Any]] = {CORE_APP: _app(CORE_MODELS, connection)}
    owners: dict[str, str] = {CORE_APP: CORE_APP}
    for key, models in plugin_models.items():
        label = app_label(key)
        if label in owners:
            raise PluginError(
                f"database app label {label!r} is already taken by {owners[label]!r}",
                plugin=key,
            )
        if not models.models or not models.migrations:
            raise PluginError(
                "DatabaseModels needs at least one models module and a migrations package",
                plugin=key,
            )
        owners[label] = key
        apps[label] = _app(models, connection)
    return apps


def app_label(plugin_key: str) -> str:
    """The tortoise app label of a plugin: its key with ``-`` read as ``_``.

    :raises PluginError: the key does not make a valid label.
    """
    label = plugin_key.replace("-", "_")
    if not _APP_LABEL.match(label):
        raise PluginError(
            f"plugin key {plugin_key!r} cannot name a database app "
            "(lower-case letters, digits and _ starting with a letter)",
            plugin=plugin_key,
        )
    return label


def tortoise_config(
    connection: str | dict[str, Any],
    apps: dict[str, dict[str, Any]],
    *,
    connection_name: str = DEFAULT_CONNECTION,
) -> dict[str, Any]:
    """A full tortoise configuration: one connection, ``apps`` on it.

    :param connection: a tortoise URL or connection entry (engine and credentials).
    :param apps: what :func:`apps_config` returns for the same ``connection_name``.
    """
    return {
        "connections": {connection_name: connection},
        "apps": apps,
        "use_tz": True,
        "timezone": "UTC",
    }


def _app(models: DatabaseModels, connection: str) -> dict[str, Any]:
    return {
        "models": list(models.models),
        "migrations": models.migrations,
        "default_connection": connection,
    }


def cli_config(plugin_models: Mapping[str, DatabaseModels] = _NO_PLUGINS) -> dict[str, Any]:
    """A configuration for tortoise's command line: core and ``plugin_models`` on SQLite in memory.

    A plugin author keeps a small module beside the plugin (not shipped in it), e.g.
    ``tortoise_config.py``::

        from medianest.core.db.config import cli_config
        from medianest_myplugin import DATABASE_MODELS
        TORTOISE_ORM = cli_config({"myplugin": DATABASE_MODELS})

    and runs ``python -m tortoise -c tortoise_config.TORTOISE_ORM makemigrations myplugin``.

    :raises PluginError: as :func:`apps_config`.
    """
    return tortoise_config("sqlite://:memory:", apps_config(plugin_models))


TORTOISE_ORM: dict[str, Any] = cli_config()
