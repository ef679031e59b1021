from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="SampleItem",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(unique=True, max_length=100)),
            ],
            options={
                "table": "sample_item",
                "app": "sample",
                "pk_attr": "id",
                "table_description": "Something the sample plugin stores.",
            },
            bases=["Model"],
        ),
    ]
