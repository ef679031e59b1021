"""Core's tables (app label ``core``; every table name starts with ``core_``).

Each change here ships with a migration in :mod:`medianest.core.db.migrations`, written by
``python -m tortoise -c medianest.core.db.config.TORTOISE_ORM makemigrations core``.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class RuntimeFlagValue(Model):
    """A flag value an admin set. Unset flags use their default."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    enabled = fields.BooleanField()
    updated_at = fields.DatetimeField()
    updated_by = fields.CharField(max_length=200, null=True)

    class Meta:
        app = "core"
        table = "core_runtime_flag_value"


__models__ = [RuntimeFlagValue]
