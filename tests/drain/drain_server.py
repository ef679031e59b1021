"""``medianest serve``'s own serving path with a slow route, run as a process by the drain
tests: ``python -m tests.drain.drain_server KEY_FILE`` (settings from ``MEDIANEST_*``).

It adds ``GET /drain-test/slow?seconds=N`` (public, answers 200 after N seconds) and, once
serving, writes an API key of an admin to ``KEY_FILE`` (for the live socket).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from quart import Blueprint, request

from medianest.config import Settings, load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.auth import api_keys
from medianest.core.cli._hub import serve_one
from medianest.core.db.models import User
from medianest.sdk.access import Permission, public

slow = Blueprint("drain_test", __name__, url_prefix="/drain-test")


@slow.get("/slow")
@public
async def slow_answer() -> dict[str, Any]:
    seconds = float(request.args.get("seconds", "1"))
    await asyncio.sleep(seconds)
    return {"slept": seconds}


def build(settings: Settings, key_file: Path) -> Any:
    app = create_app(settings)
    app.register_blueprint(slow)
    hub = hub_of(app)

    @app.before_serving
    async def write_key() -> None:
        with hub.database.activate():
            user = await User.create(
                username="drain-admin", role="admin", permissions=[str(p) for p in Permission]
            )
            issued = await api_keys.issue(user, name="drain", permissions=["view_metrics"])
        await asyncio.to_thread(key_file.write_text, issued.key)

    return app


if __name__ == "__main__":
    key_path = Path(sys.argv[1])
    asyncio.run(serve_one(load_settings(), app_factory=lambda s: build(s, key_path)))
