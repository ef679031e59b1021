"""The benchmarks, by name, in the order a full run takes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.benchmarks import (
    catalogue_search,
    cold_start,
    health_live_rate,
    library_sync,
    live_socket,
    notifications,
    pages_http,
    plex_library_read,
    plex_simulator_pages,
    request_available,
    request_create,
    request_marks,
    request_reconcile,
    search_http,
    token_verify,
    web_pages,
)
from tests.benchmarks.results import Result

Benchmark = Callable[[bool], Awaitable[Result]]
"""``run(quick)``: measures and returns the figures."""

BENCHMARKS: dict[str, Benchmark] = {
    "cold_start": cold_start.run,
    "health_live_rate": health_live_rate.run,
    "plex_simulator_pages": plex_simulator_pages.run,
    "plex_library_read": plex_library_read.run,
    "token_verify": token_verify.run,
    "library_sync": library_sync.run,
    "catalogue_search": catalogue_search.run,
    "search_http": search_http.run,
    "pages_http": pages_http.run,
    "web_pages": web_pages.run,
    "live_socket": live_socket.run,
    "request_create": request_create.run,
    "request_marks": request_marks.run,
    "request_available": request_available.run,
    "request_reconcile": request_reconcile.run,
    "notifications": notifications.run,
}
