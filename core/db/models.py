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


class User(Model):
    """A person who signed in at least once, through any sign-in method.

    ``role`` is ``admin`` or ``user``; a deactivated user (``is_active`` false) is refused at
    sign-in. ``username`` is unique on the hub.
    """

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=150, unique=True)
    display_name = fields.CharField(max_length=200, null=True)
    email = fields.CharField(max_length=320, null=True)
    avatar_url = fields.CharField(max_length=2000, null=True)
    role = fields.CharField(max_length=16, default="user")
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_sign_in_at = fields.DatetimeField(null=True)

    identities: fields.ReverseRelation[ExternalIdentity]

    class Meta:
        app = "core"
        table = "core_user"


class ExternalIdentity(Model):
    """Who a user is to one sign-in method: a Plex account, say.

    ``credentials_encrypted`` is what the provider needs on the person's behalf (a Plex
    token), encrypted with the hub's ``SecretBox``; never stored in clear.
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="identities", on_delete=fields.CASCADE
    )
    provider = fields.CharField(max_length=100)
    external_id = fields.CharField(max_length=255)
    credentials_encrypted = fields.TextField(null=True)
    attributes: dict = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = "core"
        table = "core_external_identity"
        unique_together = (("provider", "external_id"),)


__models__ = [RuntimeFlagValue, User, ExternalIdentity]
