"""The base for a plugin's settings model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PluginSettings(BaseModel):
    """Subclass this for your plugin's settings and return the class from
    ``register_settings``.

    Values come from the ``[plugins.<key>]`` table of ``medianest.toml`` and from
    ``MEDIANEST_PLUGINS__<KEY>__<FIELD>`` environment variables; core validates them at boot
    and refuses to start, naming the field, when they are wrong. Unknown fields are refused
    so a typo does not pass silently. Use ``pydantic.SecretStr`` for tokens and keys: they are
    then redacted in ``medianest config show`` and in logs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
