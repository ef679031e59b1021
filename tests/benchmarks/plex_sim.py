"""The Plex simulator as a child process: ``python -m medianest_plex.simulator --port 0``.

Its banner names each server's URL and the tokens it accepts; the first server's URL and
owner token are read from it. The simulator runs in its own process so that a client
measured against it never shares its interpreter lock.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.procs import Child, clean_environment, module_command, running

BUILT = re.compile(r"built in ([0-9.]+)s")
SERVER = re.compile(r"^\s+\S+\s+'.*'\s+(http://127\.0\.0\.1:(\d+))\s+machineIdentifier=")
OWNER_TOKEN = re.compile(r"^\s+token for owner\s+(\S+)\s*$")
BANNER_END = re.compile(r"^Accounts:")
START_TIMEOUT_SECONDS = 180.0


@dataclass(frozen=True)
class Simulator:
    """A served simulated world with one server.

    :param build_seconds: world build time, as the simulator reports it (centiseconds).
    :param started_seconds: launch → banner printed (imports + build + serving).
    """

    child: Child
    url: str
    port: int
    token: str
    items: int
    build_seconds: float
    started_seconds: float


def parse_banner(lines: list[str]) -> tuple[str, int, str, float]:
    """The first server's URL and port, its owner token and the build seconds.

    :raises ValueError: the banner lacks one of them.
    """
    url = token = None
    port = 0
    built = None
    for line in lines:
        if built is None and (match := BUILT.search(line)):
            built = float(match.group(1))
        elif url is None and (match := SERVER.match(line)):
            url, port = match.group(1), int(match.group(2))
        elif url is not None and token is None and (match := OWNER_TOKEN.match(line)):
            token = match.group(1)
    if url is None or token is None or built is None:
        raise ValueError("the simulator's banner lacks the server URL, owner token or build time")
    return url, port, token, built


@contextlib.asynccontextmanager
async def plex_simulator(items: int, workdir: Path, *, seed: int = 1) -> AsyncIterator[Simulator]:
    """Serve a one-server world of ``items`` leaves on loopback until the block exits."""
    argv = module_command(
        "medianest_plex.simulator", "--items", str(items), "--port", "0", "--seed", str(seed)
    )
    async with running(
        argv,
        name="plex simulator",
        log_path=workdir / "plex-simulator.log",
        env=clean_environment(),
    ) as child:
        lines = await child.read_lines_until(BANNER_END, START_TIMEOUT_SECONDS)
        started = time.perf_counter() - child.started
        child.drain_stdout()
        try:
            url, port, token, built = parse_banner(lines)
        except ValueError as exc:
            raise child.failure(str(exc)) from None
        yield Simulator(
            child=child,
            url=url,
            port=port,
            token=token,
            items=items,
            build_seconds=built,
            started_seconds=started,
        )
