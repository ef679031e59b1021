"""``medianest demo``: the hub on its embedded default, wired to the plugins' simulators."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import click

from medianest.core.cli._common import Context, handles_errors, run
from medianest.core.cli._hub import serve_one
from medianest.core.plugins import PluginHost
from medianest.sdk.demo import Demo, DemoSetup
from medianest.sdk.errors import PluginError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".demo"),
    show_default=True,
    help="Where the demo keeps its database.",
)
@click.pass_obj
@handles_errors
def demo(obj: Context, host: str, port: int, data_dir: Path) -> None:
    """Run the hub on its embedded default, wired to the bundled simulators."""
    run(_demo(obj, host, port, data_dir))


async def _demo(obj: Context, host: str, port: int, data_dir: Path) -> None:
    base = obj.settings(data_dir=data_dir, redis_url=None, database_url=None, plugins={})
    plugins = PluginHost(base)
    demos: list[tuple[str, Demo]] = []
    for info in plugins.enabled():
        for result in plugins.call(info, "register_demo"):
            if result is None:
                continue
            if not isinstance(result, Demo):
                raise PluginError(
                    f"plugin {info.origin} returned {type(result).__name__} from "
                    "register_demo; expected medianest.sdk.Demo",
                    plugin=info.key,
                )
            demos.append((info.key, result))
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        sections: dict[str, dict] = {}
        banner: list[str] = []
        for key, plugin_demo in demos:
            setup: DemoSetup = await stack.enter_async_context(plugin_demo.start(data_dir))
            sections[key] = setup.settings
            banner.extend(setup.instructions)
        if not demos:
            banner.append("No installed plugin ships a demo; the hub runs without sources.")
        settings = obj.settings(
            quiet=False,
            data_dir=data_dir,
            redis_url=None,
            database_url=None,
            plugins=sections,
            server={"host": host, "port": port},
        )
        await serve_one(settings, banner=lambda url: [f"Sign in at {url}/sign-in", *banner])
