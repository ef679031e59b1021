"""Migrations: core's and each plugin's, applied once, in order, under their own app labels."""

from __future__ import annotations

import asyncio

import pytest
from medianest_db_sample import DATABASE_MODELS, KEY
from medianest_db_sample.models import SampleItem

from medianest.core.db import Database
from medianest.core.db.models import RuntimeFlagValue
from medianest.sdk.errors import ConfigurationError
from medianest.sdk.persistence import DatabaseModels
from tests.db.conftest import OpenDatabase

CORE = [
    "core.0001_initial",
    "core.0002_users_and_identities",
    "core.0003_identity_and_security",
    "core.0004_library_sync",
    "core.0005_search_and_overrides",
    "core.0006_person_locale",
    "core.0007_requests",
    "core.0008_notifications",
]
SAMPLE = ["sample.0001_initial", "sample.0002_add_rating"]
PLUGINS = {KEY: DATABASE_MODELS}


async def _recorded(database: Database) -> list[tuple[str, str]]:
    _, rows = await database.connection.execute_query(
        'SELECT "app", "name" FROM "tortoise_migrations" ORDER BY "id"'
    )
    return [(row["app"], row["name"]) for row in rows]


async def test_a_new_database_has_every_migration_pending(
    url: str, open_database: OpenDatabase
) -> None:
    database = await open_database(url, migrate=False, plugin_models=PLUGINS)
    assert database.app_labels == ("core", "sample")
    assert await database.pending_migrations() == CORE + SAMPLE


async def test_migrate_applies_everything_once_in_order(
    url: str, open_database: OpenDatabase
) -> None:
    database = await open_database(url, migrate=False, plugin_models=PLUGINS)
    started: list[str] = []
    assert await database.migrate(progress=started.append) == CORE + SAMPLE
    assert started == CORE + SAMPLE
    assert await database.pending_migrations() == []
    assert await database.migrate() == []
    assert await _recorded(database) == [tuple(name.split(".")) for name in CORE + SAMPLE]


async def test_migrated_tables_work_for_core_and_plugin_models(
    url: str, open_database: OpenDatabase
) -> None:
    database = await open_database(url, plugin_models=PLUGINS)
    with database.activate():
        await SampleItem.create(name="first", rating=4)
        assert (await SampleItem.get(name="first")).rating == 4
        assert await RuntimeFlagValue.all().count() == 0
    _, tables = await database.connection.execute_query(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if database.dialect == "sqlite"
        else "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    )
    assert {"core_runtime_flag_value", "sample_item"} <= {row["name"] for row in tables}


async def test_a_plugin_added_later_gets_only_its_migrations(
    url: str, open_database: OpenDatabase
) -> None:
    core_only = await open_database(url)
    assert await core_only.pending_migrations() == []
    await core_only.close()
    with_plugin = await open_database(url, migrate=False, plugin_models=PLUGINS)
    assert await with_plugin.pending_migrations() == SAMPLE
    assert await with_plugin.migrate() == SAMPLE


async def test_replicas_migrating_together_apply_each_migration_once(
    url: str, open_database: OpenDatabase
) -> None:
    replicas = [await open_database(url, migrate=False, plugin_models=PLUGINS) for _ in range(3)]
    results = await asyncio.gather(*(replica.migrate() for replica in replicas))
    assert sorted(name for applied in results for name in applied) == sorted(CORE + SAMPLE)
    assert len(await _recorded(replicas[0])) == len(CORE + SAMPLE)


async def test_a_missing_migrations_package_is_a_configuration_error(
    url: str, open_database: OpenDatabase
) -> None:
    broken = DatabaseModels(
        models=("medianest_db_sample.models",), migrations="medianest_db_sample.no_such_package"
    )
    database = await open_database(url, migrate=False, plugin_models={KEY: broken})
    with pytest.raises(ConfigurationError, match="no_such_package"):
        await database.pending_migrations()
    with pytest.raises(ConfigurationError, match="no_such_package"):
        await database.migrate()


async def test_migrate_needs_an_open_database(url: str) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        await Database(url).migrate()


async def test_upgrading_a_database_that_holds_users_keeps_them(
    url: str, open_database: OpenDatabase
) -> None:
    """A hub that ran an earlier release upgrades in place: new columns fit existing rows."""
    from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

    from medianest.core.auth.principals import effective_permissions
    from medianest.core.db.config import apps_config
    from medianest.core.db.models import User
    from medianest.sdk.access import USER_PERMISSIONS

    database = await open_database(url, migrate=False)
    with database.activate():
        executor = MigrationExecutor(database.connection, apps_config(connection=database.dialect))
        earlier = MigrationTarget(app_label="core", name="0002_users_and_identities")
        await executor.migrate([earlier])
        await database.connection.execute_query(
            "INSERT INTO core_user (username, role, is_active, created_at) "
            "VALUES ('early', 'user', TRUE, CURRENT_TIMESTAMP)"
        )
        assert await database.migrate() == CORE[2:]
        user = await User.get(username="early")
    assert user.permissions is None and user.password_hash is None
    assert effective_permissions(user) == USER_PERMISSIONS
