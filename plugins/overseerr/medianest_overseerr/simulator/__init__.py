"""A faithful simulator of Overseerr's API, for tests, benchmarks and the demo.

``OverseerrWorld`` holds users, tracked media, requests and settings over a simulated Plex
world (same titles and external ids as :mod:`medianest_plex.simulator`, plus titles only
requestable); ``serve_simulator`` serves it over real HTTP on loopback; ``create_app`` gives
the ASGI app for in-process use; ``spawn_simulator`` runs it in a process of its own
(for latency benchmarks). See :mod:`.control` for the ``/_control`` API and the
:class:`Control` handle, :mod:`.spec` for request validation, :mod:`.webhooks` for
notifications.

Only this package imports the Plex simulator; the plugin's runtime modules never import it.
"""

from medianest_overseerr.simulator.app import create_app
from medianest_overseerr.simulator.catalogue import Catalogue, Title
from medianest_overseerr.simulator.control import Control
from medianest_overseerr.simulator.process import HttpControl, SpawnedOverseerr, spawn_simulator
from medianest_overseerr.simulator.server import RunningOverseerr, serve_simulator
from medianest_overseerr.simulator.spec import load_spec, spec_path
from medianest_overseerr.simulator.webhooks import (
    DEFAULT_JSON_PAYLOAD,
    DEFAULT_TEMPLATE,
    Notification,
    decode_template,
    encode_template,
)
from medianest_overseerr.simulator.world import (
    Exchange,
    MediaStatus,
    OverseerrWorld,
    Permission,
    RequestStatus,
    User,
    WorldError,
)

__all__ = [
    "DEFAULT_JSON_PAYLOAD",
    "DEFAULT_TEMPLATE",
    "Catalogue",
    "Control",
    "Exchange",
    "HttpControl",
    "MediaStatus",
    "Notification",
    "OverseerrWorld",
    "Permission",
    "RequestStatus",
    "RunningOverseerr",
    "SpawnedOverseerr",
    "Title",
    "User",
    "WorldError",
    "create_app",
    "decode_template",
    "encode_template",
    "load_spec",
    "serve_simulator",
    "spawn_simulator",
    "spec_path",
]
