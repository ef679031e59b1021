"""``medianest flags``: runtime feature flags."""

from __future__ import annotations

import click

from medianest.core.cli._common import Context, err, handles_errors, out, plain_table, run
from medianest.core.cli._hub import services
from medianest.sdk.errors import InvalidInputError


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

    table = plain_table("flag", "enabled", "default", "description")
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
