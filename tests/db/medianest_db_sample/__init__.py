"""A minimal plugin-shaped package with its own tables, for the database tests."""

from medianest.sdk.persistence import DatabaseModels

KEY = "sample"
DATABASE_MODELS = DatabaseModels(
    models=("medianest_db_sample.models",), migrations="medianest_db_sample.migrations"
)
