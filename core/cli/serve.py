"""``medianest serve`` and ``worker``: the long-running processes of a deployment."""

from __future__ import annotations

import sys

import click
import structlog

from medianest.config import Settings
from medianest.core.cli._common import Context, err, handles_errors, listen, out, run
from medianest.core.cli._hub import CHOOSE_ANOTHER_PORT, serve_one
from medianest.core.hub import build_hub
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
        run(serve_one(settings))


def _serve_many(settings: Settings) -> None:
    if settings.mode == "embedded":
        raise ConfigurationError(
            "several workers need shared state: set redis_url (scaled mode) or use --workers 1"
        )
    from hypercorn.run import run as hypercorn_run

    from medianest.core.serving import hypercorn_config, url_of

    sock = listen(settings.server.host, settings.server.port, choose_another=CHOOSE_ANOTHER_PORT)
    # hypercorn's own processes stop on SIGTERM: requests in flight get drain_seconds to
    # finish, but readiness and live sockets are not drained as with one worker.
    config = hypercorn_config(sock, graceful_timeout=settings.server.drain_seconds)
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
    from medianest.core import tracing
    from medianest.workers.arq_worker import build_worker_settings, run_worker

    tracing.configure_tracing()
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
        shutdown_grace_seconds=settings.jobs.shutdown_grace_seconds,
    )
    out.print(f"MediaNest worker: {len(hub.job_definitions)} jobs registered")
    run(run_worker(worker_settings, burst=burst))


async def _check_worker(settings: Settings) -> tuple[bool, str]:
    """Whether a worker on this host beats, and what to print about it."""
    from medianest.core.state.redis import CONNECTION_ERRORS, close_client, connect
    from medianest.workers.arq_queue import DEFAULT_QUEUE_NAME
    from medianest.workers.heartbeat import check_host

    assert settings.redis_url is not None
    client = connect(settings.redis_url, client_name="medianest-health-check")
    try:
        return await check_host(
            client, DEFAULT_QUEUE_NAME, settings.jobs.worker_silent_after_seconds
        )
    except CONNECTION_ERRORS as exc:
        return False, f"cannot read worker heartbeats: Redis is unreachable: {exc}"
    finally:
        await close_client(client)
