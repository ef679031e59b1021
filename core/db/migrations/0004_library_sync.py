from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

_POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE core_library_item ADD COLUMN search tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', title)) STORED",
    "CREATE INDEX core_library_item_search ON core_library_item USING gin (search)",
    "CREATE INDEX core_library_item_title_trgm ON core_library_item USING gin (title gin_trgm_ops)",
    # Written once per item by a full sync and read once, by a hash anti-join: no index to
    # keep up. Logged, unlike a scratch table: a run resumed after a database crash still
    # needs what it saw before.
    "CREATE TABLE core_sync_seen (run_id bigint NOT NULL, item_id varchar(255) NOT NULL)",
]

_SQLITE = [
    "CREATE VIRTUAL TABLE core_library_item_fts USING fts5(title, "
    "content='core_library_item', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER core_library_item_fts_insert AFTER INSERT ON core_library_item BEGIN "
    "INSERT INTO core_library_item_fts (rowid, title) VALUES (new.id, new.title)"
    "; END",
    "CREATE TRIGGER core_library_item_fts_delete AFTER DELETE ON core_library_item BEGIN "
    "INSERT INTO core_library_item_fts (core_library_item_fts, rowid, title) "
    "VALUES ('delete', old.id, old.title)"
    "; END",
    "CREATE TRIGGER core_library_item_fts_update AFTER UPDATE OF title ON core_library_item "
    "BEGIN INSERT INTO core_library_item_fts (core_library_item_fts, rowid, title) "
    "VALUES ('delete', old.id, old.title)"
    "; INSERT INTO core_library_item_fts (rowid, title) VALUES (new.id, new.title)"
    "; END",
    "CREATE TABLE core_sync_seen (run_id INTEGER NOT NULL, item_id TEXT NOT NULL, "
    "PRIMARY KEY (run_id, item_id)) WITHOUT ROWID",
]

_BOTH = [
    *(
        f"CREATE INDEX core_library_item_{column} ON core_library_item ({column}) "
        f"WHERE {column} IS NOT NULL"
        for column in ("imdb", "tmdb", "tvdb", "youtube")
    ),
    # At most one queued or running sync per source: inserting a second one fails.
    "CREATE UNIQUE INDEX core_sync_run_active ON core_sync_run (source) "
    "WHERE status IN ('queued', 'running')",
]


async def _search_and_sync_extras(apps, schema_editor):
    """What tortoise's model fields cannot say: search indexes, partial indexes, the seen set."""
    client = schema_editor.client
    dialect = client.capabilities.dialect
    statements = (_POSTGRES if dialect == "postgres" else _SQLITE) + _BOTH
    for statement in statements:
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_identity_and_security")]

    initial = False

    operations = [
        ops.CreateModel(
            name="LibraryItem",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("source", fields.CharField(max_length=100)),
                ("item_id", fields.CharField(max_length=255)),
                ("kind", fields.CharField(max_length=16)),
                ("title", fields.TextField(unique=False)),
                ("year", fields.IntField(null=True)),
                ("parent_id", fields.CharField(null=True, max_length=255)),
                ("number", fields.IntField(null=True)),
                ("imdb", fields.CharField(null=True, max_length=16)),
                ("tmdb", fields.IntField(null=True)),
                ("tvdb", fields.IntField(null=True)),
                ("youtube", fields.CharField(null=True, max_length=64)),
                ("added_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("synced_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("content_hash", fields.CharField(max_length=32)),
                (
                    "data",
                    fields.JSONField(
                        encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
            ],
            options={
                "table": "core_library_item",
                "app": "core",
                "unique_together": (("source", "item_id"),),
                "indexes": [
                    Index(fields=["source", "kind"]),
                    Index(fields=["source", "parent_id"]),
                    Index(fields=["source", "added_at"]),
                ],
                "pk_attr": "id",
                "table_description": "One item of one media source's library, as the last sync saw it: the catalogue.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SyncRun",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("source", fields.CharField(max_length=100)),
                ("kind", fields.CharField(max_length=16)),
                ("trigger", fields.CharField(max_length=16)),
                ("requested_by", fields.CharField(null=True, max_length=200)),
                ("status", fields.CharField(default="queued", max_length=16)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "finished_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("heartbeat_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("owner", fields.CharField(null=True, max_length=64)),
                ("attempts", fields.IntField(default=0)),
                ("pages", fields.IntField(default=0)),
                ("items_seen", fields.IntField(default=0)),
                ("inserted", fields.IntField(default=0)),
                ("updated", fields.IntField(default=0)),
                ("deleted", fields.IntField(default=0)),
                ("errors", fields.IntField(default=0)),
                ("total", fields.IntField(null=True)),
                ("cursor", fields.TextField(null=True, unique=False)),
                ("since", fields.TextField(null=True, unique=False)),
                ("checkpoint", fields.TextField(null=True, unique=False)),
                ("error", fields.TextField(null=True, unique=False)),
            ],
            options={
                "table": "core_sync_run",
                "app": "core",
                "indexes": [Index(fields=["source", "status", "finished_at"])],
                "pk_attr": "id",
                "table_description": "One sync of one media source: what started it, how far it got, what it changed.",
            },
            bases=["Model"],
        ),
        ops.RunPython(_search_and_sync_extras),
    ]
