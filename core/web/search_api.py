"""``GET /api/v1/search``: one query across every source."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("search", __name__, url_prefix="/api/v1")
