"""A faithful simulator of plex.tv and Plex Media Servers, for tests, demos and benchmarks.

``PlexWorld`` holds the accounts, PINs and servers (deterministic from a seed);
``serve_world`` serves it over real HTTP on loopback; ``create_app`` gives the ASGI app of
one server for in-process use. See :mod:`medianest_plex.simulator.control` for the ``/__sim``
control API and :mod:`medianest_plex.simulator.faults` for fault injection.
"""

from medianest_plex.simulator.accounts import ACCOUNT_KEYS, Account, Role, Share
from medianest_plex.simulator.app import create_app
from medianest_plex.simulator.errors import WorldError
from medianest_plex.simulator.faults import FaultMode, FaultRule
from medianest_plex.simulator.items import Agent, Item, Kind
from medianest_plex.simulator.server import RunningSimulator, serve_world
from medianest_plex.simulator.servers import SimServer
from medianest_plex.simulator.world import PlexWorld

__all__ = [
    "ACCOUNT_KEYS",
    "Account",
    "Agent",
    "FaultMode",
    "FaultRule",
    "Item",
    "Kind",
    "PlexWorld",
    "Role",
    "RunningSimulator",
    "Share",
    "SimServer",
    "WorldError",
    "create_app",
    "serve_world",
]
