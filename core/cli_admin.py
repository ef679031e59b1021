"""Administrative commands: ``db``, ``plugins``, ``config`` and ``flags``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import click
from rich.table import Table

from medianest.config import Settings
from medianest.core.cli import Context, err, handles_errors, out, run
from medianest.core.hub import Hub, build_hub
from medianest.core.logging import REDACTED, redact_value
from medianest.core.web.health import check_components
from medianest.sdk.errors import InvalidInputError


@asynccontextmanager
async def services(settings: Settings, *, migrate: bool = False) -> AsyncIterator[Hub]:
    """A hub with its database, shared state and flags open (no jobs, no plugin startup)."""
    hub = build_hub(settings)
    await hub.start(migrate=migrate or settings.mode == "embedded", services_only=True)
    try:
        yield hub
    finally:
        await hub.close()


# db ----------------------------------------------------------------------------------------


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


# plugins -----------------------------------------------------------------------------------


@click.group("plugins")
def plugins_group() -> None:
    """Installed plugins."""


@plugins_group.command("list")
@click.option("--no-health", is_flag=True, help="Do not contact the plugins' services.")
@click.pass_obj
@handles_errors
def plugins_list(obj: Context, no_health: bool) -> None:
    """Show each plugin: key, version, enabled, what it provides, and health."""
    settings = obj.settings()
    hub = build_hub(settings)
    health: dict[str, str] = {}
    if not no_health:

        async def probe() -> None:
            await hub.start(services_only=True, migrate=settings.mode == "embedded")
            try:
                for component in await check_components(hub):
                    health[component.name] = (
                        "ok" if component.ok else f"failing: {component.detail}"
                    )
            finally:
                await hub.close()

        run(probe())
    table = Table("plugin", "version", "enabled", "provides", "health")
    for info in hub.host.plugins.values():
        provided = [pid for ids in info.provides.values() for pid in ids]
        states = [f"{pid}: {health[pid]}" for pid in provided if pid in health]
        version = info.version or "-"
        source = f"{info.distribution} {version}" if info.distribution else version
        table.add_row(
            info.key,
            source,
            "yes" if info.enabled else "no",
            "\n".join(f"{kind}: {', '.join(ids)}" for kind, ids in info.provides.items()) or "-",
            "\n".join(states) or ("-" if no_health or not provided else "ok"),
        )
    out.print(table)


# config ------------------------------------------------------------------------------------


@click.group("config")
def config_group() -> None:
    """Settings."""


PYDANTIC_SECRET = "*" * 10
"""How pydantic renders a ``SecretStr`` in JSON."""


def _redacted(value: Any, key: str = "") -> Any:
    secretish = any(w in key.lower() for w in ("token", "secret", "password", "key"))
    if isinstance(value, dict):
        return {k: _redacted(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, key) for v in value]
    if (secretish and value not in (None, "")) or value == PYDANTIC_SECRET:
        return REDACTED
    return redact_value(value)


@config_group.command("show")
@click.pass_obj
@handles_errors
def config_show(obj: Context) -> None:
    """Print the effective settings as JSON, secrets redacted."""
    settings = obj.settings()
    hub = build_hub(settings)
    data = settings.model_dump(mode="json")
    data["mode"] = settings.mode
    data["database_url"] = settings.effective_database_url
    data["plugins"] = {
        info.key: info.settings.model_dump(mode="json") if info.settings else {}
        for info in hub.host.enabled()
    }
    out.print_json(json.dumps(_redacted(data)))


@config_group.command("check")
@click.option("--offline", is_flag=True, help="Validate only; do not connect to anything.")
@click.pass_obj
@handles_errors
def config_check(obj: Context, offline: bool) -> None:
    """Validate the settings and plugins, then check the database and Redis answer."""
    settings = obj.settings()
    hub = build_hub(settings)
    out.print(
        f"settings are valid ({settings.mode} mode, "
        f"plugins: {', '.join(p.key for p in hub.host.enabled()) or 'none'})"
    )
    if offline:
        return

    async def reach() -> None:
        await hub.start(services_only=True, migrate=settings.mode == "embedded")
        await hub.close()

    run(reach())
    out.print("database" + (" and Redis" if settings.redis_url else "") + " answer")


# flags -------------------------------------------------------------------------------------


@click.group("flags")
def flags_group() -> None:
    """Runtime feature flags (seen by every replica within a second)."""


@flags_group.command("list")
@click.pass_obj
@handles_errors
def flags_list(obj: Context) -> None:
    """Show every runtime flag and its value."""

    async def states() -> list:
        async with services(obj.settings()) as hub:
            return hub.flag_service.list()

    table = Table("flag", "enabled", "default", "description")
    for state in run(states()):
        mark = " (set)" if state.overridden else ""
        table.add_row(
            state.key,
            ("on" if state.enabled else "off") + mark,
            "on" if state.default else "off",
            state.description,
        )
    out.print(table)


_SWITCH = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}


@flags_group.command("set")
@click.argument("key")
@click.argument("value", metavar="on|off")
@click.pass_obj
@handles_errors
def flags_set(obj: Context, key: str, value: str) -> None:
    """Switch a runtime flag on or off."""
    if value.lower() not in _SWITCH:
        raise InvalidInputError(f"value must be on or off (got {value!r})", field="value")
    enabled = _SWITCH[value.lower()]

    async def apply() -> None:
        async with services(obj.settings()) as hub:
            await hub.flag_service.set(key, enabled, by="cli")

    run(apply())
    err.print(f"{key} is now {'on' if enabled else 'off'}")
