from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# What a request is looked up by, besides its own id and its backend's: each external id
# (search hits and media details ask for many at once, syncs match what they found), through
# partial indexes as in 0004. And one *open* request per work: a second person asking for the
# same film while the first request is still open joins it instead (the hub checks first;
# this index settles the race between two replicas). Declined, deleted and available requests
# are closed: the work may be asked for again.
_OPEN = "status IN ('pending', 'approved', 'processing', 'failed')"
_BOTH = [
    *(
        f"CREATE INDEX core_request_{column} ON core_request ({column}) WHERE {column} IS NOT NULL"
        for column in ("tmdb_id", "imdb_id", "tvdb_id")
    ),
    "CREATE UNIQUE INDEX core_request_open_work ON core_request (kind, tmdb_id) "
    f"WHERE tmdb_id IS NOT NULL AND {_OPEN}",
    # A backend's request is the hub's once; a backend may reuse the id of a request deleted
    # on both sides (ids keyed by title), so deleted rows (kept for history) stand aside.
    "CREATE UNIQUE INDEX core_request_remote ON core_request (backend, remote_id) "
    "WHERE status <> 'deleted'",
]


async def _request_indexes(apps, schema_editor):
    """Partial indexes tortoise's model options cannot express."""
    client = schema_editor.client
    for statement in _BOTH:
        await client.execute_script(statement)


class Migration(migrations.Migration):
    """Media requests: the hub's copy of each request, who else wants it, per-person quotas."""

    dependencies = [("core", "0006_person_locale")]

    initial = False

    operations = [
        ops.CreateModel(
            name="MediaRequest",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("backend", fields.CharField(max_length=100)),
                ("remote_id", fields.CharField(max_length=100)),
                ("kind", fields.CharField(max_length=16)),
                ("tmdb_id", fields.IntField(null=True)),
                ("imdb_id", fields.CharField(null=True, max_length=16)),
                ("tvdb_id", fields.IntField(null=True)),
                ("title", fields.TextField(null=True, unique=False)),
                ("year", fields.IntField(null=True)),
                (
                    "seasons",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("status", fields.CharField(default="pending", max_length=16)),
                ("reason", fields.TextField(null=True, unique=False)),
                (
                    "requested_by",
                    fields.ForeignKeyField(
                        "core.User",
                        source_field="requested_by_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="requests",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "decided_by",
                    fields.ForeignKeyField(
                        "core.User",
                        source_field="decided_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="decided_requests",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("decided_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "available_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("location_source", fields.CharField(null=True, max_length=100)),
                ("location_item_id", fields.CharField(null=True, max_length=255)),
            ],
            options={
                "table": "core_request",
                "app": "core",
                "indexes": [
                    Index(fields=["requested_by_id", "kind", "created_at"]),
                    Index(fields=["status", "id"]),
                ],
                "pk_attr": "id",
                "table_description": "A person's request for a film or a show, as the hub keeps it beside its backend's copy.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="MediaRequestInterest",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "request",
                    fields.ForeignKeyField(
                        "core.MediaRequest",
                        source_field="request_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="interests",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "core.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="request_interests",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "core_request_interest",
                "app": "core",
                "unique_together": (("request", "user"),),
                "pk_attr": "id",
                "table_description": "Someone who wants a requested title too (the requester, and whoever asked again):",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RequestQuotaOverride",
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
                        related_name="request_quotas",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("kind", fields.CharField(max_length=16)),
                ("limit", fields.IntField()),
                ("days", fields.IntField()),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("updated_by", fields.CharField(null=True, max_length=200)),
            ],
            options={
                "table": "core_request_quota",
                "app": "core",
                "unique_together": (("user", "kind"),),
                "pk_attr": "id",
                "table_description": "An admin's quota for one person and one kind (``movie`` or ``show``), in place of the",
            },
            bases=["Model"],
        ),
        ops.RunPython(_request_indexes),
    ]
