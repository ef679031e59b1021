"""``medianest serve``, ``worker`` and ``demo``: the long-running commands."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

import click
import structlog

from medianest.config import Settings
from medianest.core.app import create_app
from medianest.core.cli import Context, err, handles_errors, out, run
from medianest.core.hub import build_hub
from medianest.core.plugins import PluginHost, plugin_returned
from medianest.core.serving import bind_socket, serve_until, stop_on_signals
from medianest.sdk.demo import Demo, DemoSetup
from medianest.sdk.errors import ConfigurationError

log = structlog.get_logger(__name__)


def _server_overrides(host: str | None, port: int | None, workers: int | None) -> dict:
    given = {"host": host, "port": port, "workers": workers}
    server = {k: v for k, v in given.items() if v is not None}
    return {"server": server} if server else {}


@click.command()
@click.option("--host", help="Address to listen on (default from settings: 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default 8080; 0 picks one).")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (scaled mode).")
@click.pass_obj
@handles_errors
def serve(obj: Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the hub (embedded mode applies database migrations itself)."""
    settings = obj.settings(quiet=False, **_server_overrides(host, port, workers))
    if settings.server.workers > 1:
        _serve_many(settings)
    else:
        run(_serve_one(settings))


async def _serve_one(
    settings: Settings, *, banner: Callable[[str], list[str]] | None = None
) -> None:
    """Serve one hub until SIGINT/SIGTERM; once it listens, print where and ``banner(url)``."""
    app = create_app(settings)
    sock = bind_socket(settings.server.host, settings.server.port)
    stop = asyncio.Event()
    stop_on_signals(stop)

    def ready(url: str) -> None:
        out.print(f"MediaNest is serving on [bold]{url}[/] ({settings.mode} mode)", markup=True)
        for line in banner(url) if banner is not None else []:
            out.print(line, markup=False, soft_wrap=True)

    with sock:
        await serve_until(app, sock, stop, on_ready=ready)


def _serve_many(settings: Settings) -> None:
    if settings.mode == "embedded":
        raise ConfigurationError(
            "several workers need shared state: set redis_url (scaled mode) or use --workers 1"
        )
    from hypercorn.run import run as hypercorn_run

    from medianest.core.serving import hypercorn_config, url_of

    sock = bind_socket(settings.server.host, settings.server.port)
    config = hypercorn_config(sock)
    config.application_path = "medianest.core.asgi:app"
    config.workers = settings.server.workers
    out.print(f"MediaNest is serving on {url_of(sock)} with {config.workers} workers (scaled mode)")
    hypercorn_run(config)


@click.command()
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
@click.option(
    "--health-check",
    is_flag=True,
    help="Exit 0 when a worker on this host has a fresh heartbeat, 1 otherwise (a probe).",
)
@click.pass_obj
@handles_errors
def worker(obj: Context, burst: bool, health_check: bool) -> None:
    """Run background jobs from Redis (scaled mode); it waits out Redis and database outages."""
    settings = obj.settings(quiet=health_check)
    if not settings.redis_url:
        raise ConfigurationError(
            "medianest worker takes jobs from Redis: set redis_url. In embedded mode "
            "`medianest serve` runs the jobs itself."
        )
    if health_check:
        alive, message = run(_check_worker(settings))
        (out if alive else err).print(message, markup=False, soft_wrap=True)
        sys.exit(0 if alive else 1)
    from medianest.workers.arq_worker import build_worker_settings, run_worker

    hub = build_hub(settings)

    async def on_startup(ctx: dict) -> None:
        await hub.start(run_jobs=False)
        ctx["hub"] = hub

    async def on_shutdown(ctx: dict) -> None:
        await hub.close()

    worker_settings = build_worker_settings(
        jobs=hub.job_definitions,
        redis_url=settings.redis_url,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        max_jobs=settings.jobs.concurrency,
        handle_signals=True,
        dependencies={"database": hub.database.ping},
        heartbeat_seconds=settings.jobs.heartbeat_seconds,
    )
    out.print(f"MediaNest worker: {len(hub.job_definitions)} jobs registered")
    run(run_worker(worker_settings, burst=burst))


async def _check_worker(settings: Settings) -> tuple[bool, str]:
    """Whether a worker on this host beats, and what to print about it."""
    import redis.asyncio as aioredis

    from medianest.core.state.redis import CONNECTION_ERRORS
    from medianest.workers.arq_queue import DEFAULT_QUEUE_NAME
    from medianest.workers.heartbeat import check_host

    assert settings.redis_url is not None
    client = aioredis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        return await check_host(
            client, DEFAULT_QUEUE_NAME, settings.jobs.worker_silent_after_seconds
        )
    except CONNECTION_ERRORS as exc:
        return False, f"cannot read worker heartbeats: Redis is unreachable: {exc}"
    finally:
        await client.aclose()


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
            demo = plugin_returned(info, "register_demo", result, Demo, "medianest.sdk.Demo")
            demos.append((info.key, demo))
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
        await _serve_one(settings, banner=lambda url: [f"Sign in at {url}/sign-in", *banner])
