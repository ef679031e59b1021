"""The sample plugin's one table (app label ``sample``)."""

from tortoise import fields
from tortoise.models import Model


class SampleItem(Model):
    """Something the sample plugin stores."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    rating = fields.IntField(default=0)

    class Meta:
        table = "sample_item"
