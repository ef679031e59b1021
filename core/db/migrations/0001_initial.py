from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="RuntimeFlagValue",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("key", fields.CharField(unique=True, max_length=200)),
                ("enabled", fields.BooleanField()),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("updated_by", fields.CharField(null=True, max_length=200)),
            ],
            options={
                "table": "core_runtime_flag_value",
                "app": "core",
                "pk_attr": "id",
                "table_description": "A flag value an admin set. Unset flags use their default.",
            },
            bases=["Model"],
        ),
    ]
