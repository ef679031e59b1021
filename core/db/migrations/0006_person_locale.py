from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """The language each person chose for the pages (null: their browser's)."""

    dependencies = [("core", "0005_search_and_overrides")]

    initial = False

    operations = [
        ops.AddField(
            model_name="User",
            name="locale",
            field=fields.CharField(null=True, max_length=16),
        ),
    ]
