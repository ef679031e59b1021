"""The pages core serves itself: for now, the sign-in page at ``/sign-in`` (``/`` leads there).

The page lists the sign-in methods and drives the sign-in API from ``static/signin.js``,
served under ``/assets/`` (the page's Content-Security-Policy allows scripts from the hub
only, never inline). Pages are not part of the API, so the OpenAPI document leaves them out.
"""

from __future__ import annotations

from pathlib import Path

from quart import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    send_from_directory,
    url_for,
)
from quart_schema import hide

from medianest.core.web.signin import FLOWS
from medianest.sdk.access import public
from medianest.sdk.web import HUB_EXTENSION

ASSETS = Path(__file__).parent / "static"

pages = Blueprint("pages", __name__, template_folder="templates")


@pages.get("/")
@hide
@public
async def home() -> Response:
    """Until the hub has a web interface, its home is the sign-in page."""
    return redirect(url_for("pages.sign_in_page"))


@pages.get("/sign-in")
@hide
@public
async def sign_in_page() -> str:
    """The sign-in page: one button per interactive method, a form per credentials method."""
    hub = current_app.extensions[HUB_EXTENSION]
    providers = [p for p in hub.registry.all("auth_providers") if p.flow in FLOWS]
    return await render_template("signin.html", providers=providers)


@pages.get("/assets/<path:filename>")
@hide
@public
async def asset(filename: str) -> Response:
    """The pages' scripts and style sheets (404 for anything else)."""
    return await send_from_directory(ASSETS, filename)
