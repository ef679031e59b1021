"""``medianest demo``: the hub on its embedded default, wired to the plugins' simulators.

Once it listens, the demo writes the settings it runs with to ``<data-dir>/medianest.toml``
(its data directory, the simulators' addresses, where it listens) and prints how to point the
command line at it, so ``medianest users list``, ``medianest sync plex:home`` and the rest
work on the demo's database and simulated services while it runs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import tomli_w

from medianest.config import Settings
from medianest.core.cli._common import Context, handles_errors, run
from medianest.core.cli._hub import serve_one
from medianest.core.plugins import PluginHost, plugin_returned
from medianest.sdk.demo import Demo, DemoSetup

CONFIG_FILE_NAME = "medianest.toml"
"""The settings file the demo writes into its data directory."""
CHOOSE_ANOTHER_PORT = (
    "choose another port: make demo PORT=8081, medianest demo --port 8081 or "
    "MEDIANEST_SERVER__PORT=8081"
)


@click.command()
@click.option("--host", help="Address to listen on (default from settings: 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Port (default from settings: MEDIANEST_SERVER__PORT or 8080; 0 picks one).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".demo"),
    show_default=True,
    help="Where the demo keeps its database and writes its settings file.",
)
@click.pass_obj
@handles_errors
def demo(obj: Context, host: str | None, port: int | None, data_dir: Path) -> None:
    """Run the hub on its embedded default, wired to the bundled simulators."""
    run(_demo(obj, host, port, data_dir.absolute()))


async def _demo(obj: Context, host: str | None, port: int | None, data_dir: Path) -> None:
    base = obj.settings(data_dir=data_dir, redis_url=None, database_url=None, plugins={})
    plugins = PluginHost(base)
    demos: list[tuple[str, Demo]] = []
    for info in plugins.enabled():
        for result in plugins.call(info, "register_demo"):
            if result is None:
                continue
            demo = plugin_returned(info, "register_demo", result, Demo, "medianest.sdk.Demo")
            demos.append((info.key, demo))
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    server = {
        "host": base.server.host if host is None else host,
        "port": base.server.port if port is None else port,
    }
    async with AsyncExitStack() as stack:
        sections: dict[str, dict] = {}
        instructions: list[str] = []
        for key, plugin_demo in demos:
            setup: DemoSetup = await stack.enter_async_context(plugin_demo.start(data_dir))
            sections[key] = setup.settings
            instructions.extend(setup.instructions)
        if not demos:
            instructions.append("No installed plugin ships a demo; the hub runs without sources.")
        settings = obj.settings(
            quiet=False,
            data_dir=data_dir,
            redis_url=None,
            database_url=None,
            plugins=sections,
            server=server,
        )

        def banner(url: str) -> list[str]:
            config_file = write_config_file(settings, url)
            return [
                f"Sign in at {url}/sign-in",
                *instructions,
                "",
                f"The command line works on this demo while it runs (settings: {config_file}):",
                f"  export MEDIANEST_CONFIG={config_file}",
                f"  {command_path()} plugins list       # or: users list, sync plex:home, ...",
            ]

        await serve_one(settings, banner=banner, choose_another=CHOOSE_ANOTHER_PORT)


def write_config_file(settings: Settings, url: str) -> Path:
    """Write the demo's own settings to ``<data_dir>/medianest.toml``; return its path.

    Only what the demo sets is written (data directory, where it listens, the plugins' demo
    sections, boot flags); the rest stays at its defaults or the environment's values.
    """
    address = urlsplit(url)
    document: dict[str, Any] = {
        "data_dir": str(settings.data_dir),
        "server": {"host": settings.server.host, "port": address.port},
    }
    if settings.features:
        document["features"] = dict(settings.features)
    if settings.plugins:
        document["plugins"] = _without_none(settings.plugins)
    path = Path(settings.data_dir) / CONFIG_FILE_NAME
    header = (
        "# Written by `medianest demo` at each start: the demo's data and its simulated\n"
        "# services, which answer only while the demo runs. Use it with\n"
        f"# MEDIANEST_CONFIG={path} or `medianest --config {path} ...`.\n"
    )
    path.write_text(header + tomli_w.dumps(document), encoding="utf-8")
    return path


def _without_none(value: Any) -> Any:
    """``value`` without ``None`` entries (TOML has no null; a missing key means the default)."""
    if isinstance(value, Mapping):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_none(v) for v in value if v is not None]
    return value


def command_path() -> str:
    """How to run this ``medianest`` from the current directory (``.venv/bin/medianest``)."""
    program = Path(sys.argv[0])
    on_path = shutil.which(program.name)
    if len(program.parts) == 1 or (on_path and Path(on_path).samefile(program)):
        return program.name
    try:
        relative = os.path.relpath(program.absolute(), Path.cwd())
    except ValueError:  # another drive
        return str(program.absolute())
    return str(program.absolute()) if relative.startswith("..") else relative
