from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    initial = False

    operations = [
        ops.CreateModel(
            name="User",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("username", fields.CharField(unique=True, max_length=150)),
                ("display_name", fields.CharField(null=True, max_length=200)),
                ("email", fields.CharField(null=True, max_length=320)),
                ("avatar_url", fields.CharField(null=True, max_length=2000)),
                ("role", fields.CharField(default="user", max_length=16)),
                ("is_active", fields.BooleanField(default=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "last_sign_in_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "core_user",
                "app": "core",
                "pk_attr": "id",
                "table_description": "A person who signed in at least once, through any sign-in method.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ExternalIdentity",
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
                        related_name="identities",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("provider", fields.CharField(max_length=100)),
                ("external_id", fields.CharField(max_length=255)),
                ("credentials_encrypted", fields.TextField(null=True, unique=False)),
                (
                    "attributes",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "core_external_identity",
                "app": "core",
                "unique_together": (("provider", "external_id"),),
                "pk_attr": "id",
                "table_description": "Who a user is to one sign-in method: a Plex account, say.",
            },
            bases=["Model"],
        ),
    ]
