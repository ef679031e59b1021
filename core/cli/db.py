"""``medianest db``: the database schema."""

from __future__ import annotations

import click

from medianest.core.cli._common import Context, handles_errors, out, run
from medianest.core.hub import build_hub


@click.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
@click.pass_obj
@handles_errors
def db_upgrade(obj: Context) -> None:
    """Apply every pending migration (core's and the plugins')."""
    settings = obj.settings()

    async def upgrade() -> list[str]:
        hub = build_hub(settings)
        await hub.database.open()
        try:
            return await hub.database.migrate(progress=lambda name: out.print(f"  applied {name}"))
        finally:
            await hub.database.close()

    applied = run(upgrade())
    out.print(f"database is up to date ({len(applied)} migrations applied)")
