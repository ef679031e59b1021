from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# The orders the media API pages through, each as (key, id) so a keyset cursor is one index
# range: browsing by title (case folded), by year and by time added, and recently added across
# every source, newest first (the per-source index cannot serve that). A missing year sorts as
# 0 and a missing time added as the epoch, so every key is set; the read side
# (medianest.core.media.reads) orders by these very expressions, or the indexes go unused.
_BOTH = [
    "CREATE INDEX core_library_item_title_order ON core_library_item (lower(title), id)",
    "CREATE INDEX core_library_item_year_order ON core_library_item ((COALESCE(year, 0)), id)",
    "CREATE INDEX core_library_item_added ON core_library_item "
    "((COALESCE(added_at, '1970-01-01 00:00:00+00:00')), id)",
]

# What search ranks by (a missing year as 0, a missing time added as the epoch, newest first):
# a search for a common word walks these in rank order and stops after a page. The "works"
# ones leave out seasons, episodes and tracks, which a search skips unless asked for. PostgreSQL
# also gets title prefix indexes it can use for LIKE whatever the database's collation.
_RANK_KEY = "(COALESCE(year, 0)) DESC, (COALESCE(added_at, '1970-01-01 00:00:00+00:00')) DESC"
_WORKS = "WHERE kind NOT IN ('season', 'episode', 'track')"
_RANKED = [
    f"CREATE INDEX core_library_item_rank ON core_library_item ({_RANK_KEY})",
    f"CREATE INDEX core_library_item_rank_works ON core_library_item ({_RANK_KEY}) {_WORKS}",
]
_POSTGRES = [
    "CREATE INDEX core_library_item_title_prefix ON core_library_item "
    "(lower(title) text_pattern_ops)",
    "CREATE INDEX core_library_item_title_prefix_works ON core_library_item "
    f"(lower(title) text_pattern_ops) {_WORKS}",
]
_SQLITE = [
    f"CREATE INDEX core_library_item_title_works ON core_library_item (lower(title)) {_WORKS}"
]


async def _catalogue_indexes(apps, schema_editor):
    """Indexes tortoise's model options cannot express (on expressions, partial)."""
    client = schema_editor.client
    dialect = client.capabilities.dialect
    statements = _BOTH + _RANKED + (_POSTGRES if dialect == "postgres" else _SQLITE)
    for statement in statements:
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [("core", "0004_library_sync")]

    initial = False

    operations = [
        ops.CreateModel(
            name="MediaOverride",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("source", fields.CharField(max_length=100)),
                ("item_id", fields.CharField(max_length=255)),
                ("title", fields.TextField(null=True, unique=False)),
                ("year", fields.IntField(null=True)),
                ("summary", fields.TextField(null=True, unique=False)),
                ("imdb", fields.CharField(null=True, max_length=16)),
                ("tmdb", fields.IntField(null=True)),
                ("tvdb", fields.IntField(null=True)),
                ("poster_url", fields.TextField(null=True, unique=False)),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("updated_by", fields.CharField(null=True, max_length=200)),
            ],
            options={
                "table": "core_media_override",
                "app": "core",
                "unique_together": (("source", "item_id"),),
                "pk_attr": "id",
                "table_description": "An admin's correction of one catalogue item, kept apart from what syncs write.",
            },
            bases=["Model"],
        ),
        ops.RunPython(_catalogue_indexes),
    ]
