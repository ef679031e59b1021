"""tortoise's command line configuration for the sample plugin, the way a plugin author keeps one.

From this directory: ``python -m tortoise -c sample_tortoise_config.TORTOISE_ORM makemigrations
sample`` writes the sample plugin's next migration.
"""

from medianest_db_sample import DATABASE_MODELS, KEY

from medianest.core.db.config import cli_config

TORTOISE_ORM = cli_config({KEY: DATABASE_MODELS})
