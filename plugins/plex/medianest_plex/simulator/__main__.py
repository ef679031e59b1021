"""Run the Plex simulator in the foreground.

    python -m medianest_plex.simulator --items 5000 --port 32400 --servers 2 --seed 7

Prints the plex.tv / approval-page / control URLs, each server's URL and accepted tokens,
and the accounts with their plex.tv tokens; serves until interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

from medianest_plex.simulator.server import RunningSimulator, serve_world
from medianest_plex.simulator.world import PlexWorld


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m medianest_plex.simulator",
        description="Simulated plex.tv and Plex Media Servers.",
    )
    parser.add_argument(
        "--items",
        type=int,
        default=1000,
        help="movies + episodes per server (40%% movies); default 1000",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=32400,
        help="port of plex.tv + the first server; later servers use the "
        "following ports; 0 picks free ports (default 32400)",
    )
    parser.add_argument("--seed", type=int, default=1, help="world seed (default 1)")
    parser.add_argument("--servers", type=int, default=1, help="number of servers (default 1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    args = parser.parse_args(argv)
    if args.items < 0 or args.servers < 1 or not 0 <= args.port <= 65535:
        parser.error("--items must be >= 0, --servers >= 1 and --port 0-65535")
    return args


def banner(sim: RunningSimulator, build_seconds: float) -> str:
    """The text printed once serving starts."""
    world = sim.world
    lines = [
        f"Plex simulator (seed {world.seed}, {world.items_per_server} items per server, "
        f"built in {build_seconds:.2f}s)",
        f"  plex.tv       {sim.plextv_url}/api/v2",
        f"  approval page {sim.auth_url}#?clientID=<id>&code=<pin code>&forwardUrl=<url>",
        f"  control API   {sim.control_url}/world",
        "",
        "Servers:",
    ]
    for srv in world.servers:
        lines.append(
            f"  {srv.slug:<8} {srv.name!r} {sim.server_urls[srv.slug]} "
            f"machineIdentifier={srv.machine_identifier}"
        )
        for key, token in srv.tokens.items():
            lines.append(f"             token for {key:<9} {token}")
    lines += ["", "Accounts:"]
    for key, account in world.accounts.items():
        lines.append(
            f"  {key:<9} id={account.id:<9} username={account.username!r:<24} "
            f"email={account.email!r:<36} token={account.token}"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    """Build the world, serve it and wait for a stop signal."""
    started = time.perf_counter()
    world = PlexWorld(seed=args.seed, items=args.items, servers=args.servers)
    built = time.perf_counter() - started
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve_world(world, host=args.host, port=args.port) as sim:
        print(banner(sim, built), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = parse_args(argv)
    try:
        asyncio.run(run(args))
    except OSError as exc:
        print(f"cannot serve: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
