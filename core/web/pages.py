"""The pages core serves itself: for now, the sign-in page at ``/sign-in`` (``/`` leads there).

The page lists the sign-in methods and drives the sign-in API from ``static/signin.js``,
served under ``/assets/`` (the page's Content-Security-Policy allows scripts from the hub
only, never inline). Pages are not part of the API, so the OpenAPI document leaves them out.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from quart import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from quart_schema import hide
from werkzeug.wrappers.response import Response as WerkzeugResponse

from medianest.core.web import context
from medianest.core.web.signin import FLOWS
from medianest.sdk.access import public

ASSETS = Path(__file__).parent / "static"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css"}


@cache
def _assets() -> dict[str, tuple[bytes, str, str]]:
    """Every asset as (content, content type, ETag), read once: they are a few kilobytes."""
    return {
        path.name: (content, ASSET_TYPES[path.suffix], hashlib.sha256(content).hexdigest()[:16])
        for path in ASSETS.iterdir()
        if path.suffix in ASSET_TYPES
        for content in (path.read_bytes(),)
    }


pages = Blueprint("pages", __name__, template_folder="templates")


@pages.get("/")
@hide
@public
async def home() -> WerkzeugResponse:
    """Until the hub has a web interface, its home is the sign-in page."""
    return redirect(url_for("pages.sign_in_page"))


@pages.get("/sign-in")
@hide
@public
async def sign_in_page() -> str:
    """The sign-in page: one button per interactive method, a form per credentials method."""
    hub = context.hub()
    providers = [p for p in hub.registry.all("auth_providers") if p.flow in FLOWS]
    return await render_template("signin.html", providers=providers)


@pages.get("/assets/<path:filename>")
@hide
@public
async def asset(filename: str) -> Response:
    """The pages' scripts and style sheets (404 for anything else)."""
    found = _assets().get(filename)
    if found is None:
        abort(404)
    content, content_type, etag = found
    if request.if_none_match.contains(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    response = Response(content, content_type=f"{content_type}; charset=utf-8")
    response.headers["ETag"] = f'"{etag}"'
    response.headers["Cache-Control"] = "no-cache"
    return response
