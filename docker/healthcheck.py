"""The image's HEALTHCHECK: exit 0 when the hub in this container answers ``/health/live``.

Standard library only (the image has no curl). The port is the hub's own setting
(``MEDIANEST_SERVER__PORT``, 8080 by default); the request goes to loopback, which the hub
always accepts as a host name.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

TIMEOUT_SECONDS = 4.0


def live_url(environ: Mapping[str, str]) -> str:
    """The URL of this container's liveness endpoint."""
    port = environ.get("MEDIANEST_SERVER__PORT", "8080").strip() or "8080"
    return f"http://127.0.0.1:{port}/health/live"


def main() -> int:
    """0 when ``/health/live`` answers 200, 1 otherwise (with the reason on stderr)."""
    url = live_url(os.environ)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 - loopback http URL built above
            status = answer.status
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"{url}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
