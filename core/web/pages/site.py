"""The pages every visitor meets: the assets, sign-in and sign-out, the icon, the manifest, and
the choice of language.

- ``GET /assets/<name>``: core's static files (:mod:`medianest.core.web.pages.assets`).
- ``GET /sign-in?next=/path``: the sign-in methods; a signed-in visitor goes on to ``next``
  (a path of this hub only, else Home) at once, others after signing in.
- ``POST /sign-out``: ends this session (form with the CSRF token), then the sign-in page.
- ``POST /language``: remembers the language chosen, for this browser and (from a session's
  form) for the person, then back to where it was.
- ``GET /favicon.ico``, ``GET /manifest.webmanifest``: the icon and the web app manifest.
"""

from __future__ import annotations

import json

from quart import Response, abort, g, redirect, request, url_for
from quart.typing import ResponseTypes

from medianest.core.auth.sessions import SIGNED_OUT
from medianest.core.db.models import User
from medianest.core.web import context
from medianest.core.web.pages import i18n
from medianest.core.web.pages.assets import core_assets
from medianest.core.web.pages.shell import (
    page_blueprint,
    render_page,
    safe_next,
)
from medianest.core.web.session_cookies import clear_session_cookies
from medianest.core.web.signin import FLOWS
from medianest.sdk.access import public
from medianest.sdk.web import current_principal

assets = page_blueprint("assets", __name__)
site_pages = page_blueprint("site_pages", __name__, template_folder="../templates")

LOCALE_COOKIE_SECONDS = 365 * 86_400


@assets.get("/assets/<path:filename>")
@public
async def asset(filename: str) -> Response:
    """Core's scripts, style sheets and icons (404 for anything else)."""
    response = core_assets().respond(filename)
    if response is None:
        abort(404)
    return response


@site_pages.get("/sign-in")
@public
async def sign_in() -> ResponseTypes:
    """The sign-in page: one button per interactive method, a form per credentials method."""
    target = safe_next(request.args.get("next"))
    if current_principal() is not None:
        return redirect(target, 303)
    hub = context.hub()
    providers = [p for p in hub.registry.all("auth_providers") if p.flow in FLOWS]
    return await render_page(
        "signin.html", title=i18n.gettext("Sign in"), providers=providers, next_url=target
    )


@site_pages.post("/sign-out")
@public
async def sign_out() -> ResponseTypes:
    """End this session (when the form carries its CSRF token) and go to the sign-in page."""
    hub = context.hub()
    session_id = g.get("session_id")
    if session_id is not None:  # the guard resolved the cookie only with a valid CSRF token
        await hub.sessions.revoke(session_id, reason=SIGNED_OUT, actor=current_principal())
    response = redirect(url_for("site_pages.sign_in"), 303)
    clear_session_cookies(response, hub.settings.auth)
    return response


@site_pages.post("/language")
@public
async def choose_language() -> ResponseTypes:
    """Remember the language chosen (``locale``: a shipped one, or empty for the browser's):
    for this browser, and for the person when the form comes from their session."""
    form = await request.form
    chosen = form.get("locale", "")
    if chosen not in i18n.shipped_locales():
        chosen = ""
    response = redirect(safe_next(form.get("next")), 303)
    user = g.get("current_user")
    if user is not None and g.get("authenticated_by") in ("cookie", "bearer"):
        await User.filter(id=user.id).update(locale=chosen or None)  # cached users are shared
        await context.hub().sessions.users.changed(user.id)
    if chosen:
        response.set_cookie(
            i18n.LOCALE_COOKIE,
            chosen,
            max_age=LOCALE_COOKIE_SECONDS,
            path="/",
            samesite="Lax",
            httponly=True,
            secure=request.scheme == "https",
        )
    else:
        response.delete_cookie(i18n.LOCALE_COOKIE, path="/")
    return response


@site_pages.get("/favicon.ico")
@public
async def favicon() -> ResponseTypes:
    """The hub's icon (an SVG: every current browser takes it)."""
    return redirect(url_for("assets.asset", filename=_fingerprinted("icon.svg")), 301)


@site_pages.get("/manifest.webmanifest")
@public
async def manifest() -> Response:
    """The web app manifest: installable on a phone's home screen or as a desktop app."""
    icon = url_for("assets.asset", filename=_fingerprinted("icon.svg"))
    body = {
        "name": "MediaNest",
        "short_name": "MediaNest",
        "description": i18n.gettext("Search, browse and follow your household's media."),
        "lang": i18n.current_locale(),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#10141c",
        "theme_color": "#2b6cb0",
        "icons": [
            {"src": icon, "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
            {"src": icon, "sizes": "any", "type": "image/svg+xml", "purpose": "maskable"},
        ],
    }
    response = Response(json.dumps(body), content_type="application/manifest+json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _fingerprinted(name: str) -> str:
    return core_assets().by_name[name].fingerprinted
