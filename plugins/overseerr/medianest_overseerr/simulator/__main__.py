"""Run the Overseerr simulator in the foreground.

    python -m medianest_overseerr.simulator --port 5055 --plex-world-size 5000 --seed 7

Prints the URL, the API key, the users and the control URL; serves until interrupted.
The same ``--seed`` and ``--plex-world-size`` as the Plex simulator's ``--seed`` and
``--items`` give the same titles and ids.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

from medianest_overseerr.simulator.server import RunningOverseerr, serve_simulator
from medianest_overseerr.simulator.world import OverseerrWorld


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m medianest_overseerr.simulator",
        description="A simulated Overseerr (API v1) over a simulated Plex world.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=5055, help="port; 0 picks a free one (default 5055)"
    )
    parser.add_argument(
        "--api-key", default="overseerr-simulator-api-key", help="the X-Api-Key to accept"
    )
    parser.add_argument("--seed", type=int, default=1, help="world seed (default 1)")
    parser.add_argument(
        "--plex-world-size",
        type=int,
        default=1000,
        help="items per Plex server of the world (the Plex simulator's --items; default 1000)",
    )
    parser.add_argument(
        "--plex-servers", type=int, default=1, help="Plex servers in the world (default 1)"
    )
    parser.add_argument(
        "--requestable",
        type=int,
        default=None,
        help="titles in no library (default: a quarter of Plex's titles)",
    )
    args = parser.parse_args(argv)
    if args.plex_world_size < 0 or not 0 <= args.port <= 65535 or args.plex_servers < 1:
        parser.error("--plex-world-size must be >= 0, --plex-servers >= 1, --port 0-65535")
    if not args.api_key:
        parser.error("--api-key must not be empty")
    return args


def banner(sim: RunningOverseerr, seconds: float) -> str:
    """What is printed once serving starts."""
    world = sim.world
    described = world.describe()
    lines = [
        f"Overseerr simulator (seed {world.seed}, Plex world of {world.plex.items_per_server} "
        f"items, {described['titles']['total']} titles, built in {seconds:.2f}s)",
        f"  URL          {sim.url}",
        f"  API          {sim.api_url}",
        f"  API key      {sim.api_key}",
        f"  control API  {sim.control_url}/state",
        "",
        "Users:",
    ]
    for user in world.users.values():
        lines.append(
            f"  id={user.id:<3} {user.display_name!r:<28} email={user.email!r:<40} "
            f"plexId={user.plex_id} permissions={user.permissions}"
        )
    missing = ", ".join(described["plexAccountsWithoutUser"])
    lines.append(f"  Plex accounts without a user: {missing}")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    """Build the world, serve it, wait for a stop signal."""
    from medianest_plex.simulator import PlexWorld

    started = time.perf_counter()
    plex = PlexWorld(seed=args.seed, items=args.plex_world_size, servers=args.plex_servers)
    world = OverseerrWorld(plex, requestable=args.requestable, api_key=args.api_key)
    built = time.perf_counter() - started
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve_simulator(world, host=args.host, port=args.port) as sim:
        print(banner(sim, built), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    try:
        asyncio.run(run(args))
    except OSError as exc:
        print(f"cannot serve: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
