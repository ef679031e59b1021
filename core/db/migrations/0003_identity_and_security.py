from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("core", "0002_users_and_identities")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ApiKey",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "core.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="api_keys",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=32)),
                ("secret_digest", fields.CharField(max_length=64)),
                ("name", fields.CharField(max_length=100)),
                (
                    "permissions",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("expires_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "last_used_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "core_api_key",
                "app": "core",
                "pk_attr": "id",
                "table_description": "A user's API key, scoped to some of the user's permissions, shown once, stored hashed.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AuditEvent",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("at", fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ("action", fields.CharField(db_index=True, max_length=100)),
                ("outcome", fields.CharField(default="success", max_length=16)),
                ("actor_user_id", fields.IntField(null=True, db_index=True)),
                ("actor", fields.CharField(null=True, max_length=200)),
                ("target", fields.CharField(null=True, max_length=200)),
                ("ip", fields.CharField(null=True, max_length=64)),
                (
                    "details",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
            ],
            options={
                "table": "core_audit_event",
                "app": "core",
                "pk_attr": "id",
                "table_description": "An admin action or security event: who did what to whom, from where, with what outcome.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Session",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=36),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "core.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sessions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("last_seen_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoked_reason", fields.CharField(null=True, max_length=100)),
                ("ip", fields.CharField(null=True, max_length=64)),
                ("user_agent", fields.CharField(null=True, max_length=500)),
            ],
            options={
                "table": "core_session",
                "app": "core",
                "pk_attr": "id",
                "table_description": "One signed-in device: a family of rotating refresh tokens.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RefreshToken",
            fields=[
                (
                    "digest",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64),
                ),
                (
                    "session",
                    fields.ForeignKeyField(
                        "core.Session",
                        source_field="session_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="refresh_tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "core_refresh_token",
                "app": "core",
                "pk_attr": "digest",
                "table_description": "A refresh token of a session, stored as its SHA-256 digest.",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="User",
            name="password_hash",
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name="User",
            name="permissions",
            field=fields.JSONField(
                null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
    ]
