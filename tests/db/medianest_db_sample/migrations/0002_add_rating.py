from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("sample", "0001_initial")]

    initial = False

    operations = [
        ops.AddField(
            model_name="SampleItem",
            name="rating",
            field=fields.IntField(default=0),
        ),
    ]
