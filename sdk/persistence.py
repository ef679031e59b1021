"""How a plugin contributes database tables."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DatabaseModels:
    """A plugin's tortoise-orm models and their migrations.

    :param models: dotted module paths holding the plugin's ``tortoise.models.Model`` classes.
    :param migrations: the dotted package holding its migrations (tortoise's own format).

    Core registers them under the app label equal to the plugin key; table names should start
    with ``<key>_``. ``medianest db upgrade`` applies the migrations with core's own.
    """

    models: tuple[str, ...]
    migrations: str
