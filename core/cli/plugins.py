"""``medianest plugins``: the installed plugins, what they provide and their health."""

from __future__ import annotations

import click

from medianest.core.cli._common import Context, handles_errors, out, plain_table, run
from medianest.core.hub import build_hub
from medianest.core.web.health import check_components


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
    table = plain_table("plugin", "version", "enabled", "provides", "health")
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
