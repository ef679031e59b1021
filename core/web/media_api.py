"""The media API: item details, recently added, library browsing and admin overrides."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("media", __name__, url_prefix="/api/v1")
