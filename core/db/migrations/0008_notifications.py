import functools
import json
from typing import Any

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


def _json() -> Any:
    return fields.JSONField(
        encoder=functools.partial(json.dumps, separators=(",", ":")), decoder=json.loads
    )


def _int_id() -> Any:
    return fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)


def _big_id() -> Any:
    return fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)


def _when(null: bool = False) -> Any:
    if null:
        return fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)
    return fields.DatetimeField(auto_now=False, auto_now_add=False)


class Migration(migrations.Migration):
    """Notifications: each person's inbox, the deliveries notifiers make (with the dead
    letters), each person's destinations and preferences."""

    dependencies = [("core", "0007_requests")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Notification",
            fields=[
                ("id", _big_id()),
                ("user_id", fields.IntField()),
                ("event_type", fields.CharField(max_length=200)),
                ("title", fields.CharField(max_length=300)),
                ("body", fields.TextField(default="", unique=False)),
                ("link", fields.CharField(null=True, max_length=2000)),
                ("image", fields.CharField(null=True, max_length=2000)),
                ("data", _json()),
                ("group_key", fields.CharField(null=True, max_length=400)),
                ("count", fields.IntField(default=1)),
                ("created_at", _when()),
                ("updated_at", _when()),
                ("read_at", _when(null=True)),
            ],
            options={
                "table": "core_notification",
                "app": "core",
                "indexes": [
                    Index(fields=["user_id", "read_at"]),
                    Index(fields=["user_id", "group_key"]),
                ],
                "pk_attr": "id",
                "table_description": "One notification in a person's inbox.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="NotificationDelivery",
            fields=[
                ("id", _big_id()),
                ("key", fields.CharField(unique=True, max_length=255)),
                ("notifier", fields.CharField(max_length=100)),
                ("user_id", fields.IntField(null=True)),
                ("role", fields.CharField(null=True, max_length=16)),
                ("event_type", fields.CharField(max_length=200)),
                ("address", fields.TextField(null=True, unique=False)),
                ("destination", fields.CharField(max_length=64)),
                ("payload", _json()),
                ("status", fields.CharField(default="pending", max_length=16)),
                ("attempts", fields.IntField(default=0)),
                ("not_before", _when(null=True)),
                ("lease_until", _when(null=True)),
                ("owner", fields.CharField(null=True, max_length=64)),
                ("last_error", fields.TextField(null=True, unique=False)),
                ("created_at", _when()),
                ("updated_at", _when()),
                ("sent_at", _when(null=True)),
            ],
            options={
                "table": "core_notification_delivery",
                "app": "core",
                "indexes": [Index(fields=["status", "updated_at"])],
                "pk_attr": "id",
                "table_description": "One delivery of one notification by one notifier to one "
                "recipient.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="NotificationChannel",
            fields=[
                ("id", _int_id()),
                ("user_id", fields.IntField()),
                ("kind", fields.CharField(max_length=100)),
                ("address", fields.TextField(unique=False)),
                ("masked", fields.CharField(max_length=300)),
                ("updated_at", _when()),
            ],
            options={
                "table": "core_notification_channel",
                "app": "core",
                "unique_together": (("user_id", "kind"),),
                "pk_attr": "id",
                "table_description": "A person's destination of one address kind.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="NotificationPreference",
            fields=[
                ("id", _int_id()),
                ("scope", fields.CharField(unique=True, max_length=50)),
                ("settings", _json()),
                ("updated_at", _when()),
            ],
            options={
                "table": "core_notification_preference",
                "app": "core",
                "pk_attr": "id",
                "table_description": "What a person wants to hear of, where and when not, or "
                "the defaults admins set.",
            },
            bases=["Model"],
        ),
    ]
