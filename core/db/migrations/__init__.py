"""Core's migrations, in tortoise-orm's own format, applied by ``Database.migrate()``."""
