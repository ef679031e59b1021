"""The signed-in person's own pages: profile, sessions and API keys.

They call the same rules as ``/api/v1/me``, ``/api/v1/me/sessions`` and
``/api/v1/me/api-keys``. Forms post here with the session's CSRF token (``csrf_token`` field)
and come back to the page (post, redirect, get); a new API key is shown once, on the answer to
the form that made it (never stored by any cache).
"""

from __future__ import annotations

from pydantic import ValidationError
from quart import Response, g, redirect, request, url_for
from quart.typing import ResponseTypes

from medianest.core.auth.sessions import SIGNED_OUT_EVERYWHERE
from medianest.core.db.models import ApiKey, User
from medianest.core.web import context
from medianest.core.web.api_keys_api import (
    ApiKeyCreate,
    ApiKeyView,
    issue_own_key,
    revoke_key,
)
from medianest.core.web.pages import i18n
from medianest.core.web.pages.shell import page_blueprint, render_page
from medianest.core.web.session_cookies import clear_session_cookies
from medianest.core.web.sessions_api import end_own_session
from medianest.core.web.sessions_schemas import SessionView
from medianest.sdk.access import Permission, signed_in
from medianest.sdk.errors import InvalidInputError
from medianest.sdk.models import Principal
from medianest.sdk.web import current_principal

account_pages = page_blueprint(
    "account_pages", __name__, template_folder="../templates", url_prefix="/account"
)
KEYS_SHOWN = 100


def _me() -> Principal:
    principal = current_principal()
    assert principal is not None  # the route is signed_in: the guard let no one else through
    return principal


@account_pages.get("")
@signed_in
async def profile() -> Response:
    """Who you are here: name, sign-in methods, role and permissions, and your language."""
    principal = _me()
    user: User = g.current_user
    identities = await user.identities.all()
    return await render_page(
        "account/profile.html",
        title=i18n.gettext("Profile"),
        identities=identities,
        permissions=sorted(str(p) for p in Permission if principal.has(p)),
        locales=[(code, i18n.locale_name(code)) for code in i18n.shipped_locales()],
        chosen_locale=user.locale or "",
    )


@account_pages.get("/sessions")
@signed_in
async def sessions() -> Response:
    """Your live sessions, most recently seen first, each with a button to end it."""
    live = await context.hub().sessions.active_sessions(_me().user_id)
    views = [SessionView.of(s, current_id=g.session_id) for s in live]
    return await render_page(
        "account/sessions.html", title=i18n.gettext("Sessions"), sessions=views
    )


@account_pages.post("/sessions/<session_id>/end")
@signed_in
async def end_session(session_id: str) -> ResponseTypes:
    """End one of your sessions; ending this one signs you out."""
    hub = context.hub()
    await end_own_session(hub, _me(), session_id)
    if session_id == g.session_id:
        response = redirect(url_for("site_pages.sign_in"), 303)
        clear_session_cookies(response, hub.settings.auth)
        return response
    return redirect(url_for("account_pages.sessions"), 303)


@account_pages.post("/sign-out-everywhere")
@signed_in
async def sign_out_everywhere() -> ResponseTypes:
    """End every session of yours, this one too."""
    hub = context.hub()
    principal = _me()
    await hub.sessions.revoke_all(principal.user_id, reason=SIGNED_OUT_EVERYWHERE, actor=principal)
    response = redirect(url_for("site_pages.sign_in"), 303)
    clear_session_cookies(response, hub.settings.auth)
    return response


@account_pages.get("/api-keys")
@signed_in
async def api_keys() -> Response:
    """Your API keys (never the keys themselves) and a form to make one."""
    return await _keys_page()


@account_pages.post("/api-keys")
@signed_in
async def create_api_key() -> Response:
    """Make an API key from the form; the answer shows it, once."""
    form = await request.form
    try:
        data = ApiKeyCreate(
            name=form.get("name", ""),
            permissions=form.getlist("permissions"),
            expires_at=_end_of_day(form.get("expires_at", "")),
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        return await _keys_page(error=f"{field}: {problem['msg']}", status=422)
    try:
        issued = await issue_own_key(_me(), data)
    except InvalidInputError as exc:
        return await _keys_page(error=exc.message, status=422)
    return await _keys_page(
        created=issued.key, created_name=issued.row.name, headers={"Cache-Control": "no-store"}
    )


@account_pages.post("/api-keys/<int:key_id>/revoke")
@signed_in
async def revoke_api_key(key_id: int) -> ResponseTypes:
    """Revoke one of your API keys; it stops working at once."""
    principal = _me()
    await revoke_key(principal, principal.user_id, key_id)
    return redirect(url_for("account_pages.api_keys"), 303)


def _end_of_day(day: str) -> str | None:
    """A date input's ``YYYY-MM-DD`` as the end of that day, UTC (``None`` when empty)."""
    day = day.strip()
    return f"{day}T23:59:59Z" if day else None


async def _keys_page(
    *,
    error: str | None = None,
    created: str | None = None,
    created_name: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    principal = _me()
    rows = await ApiKey.filter(user_id=principal.user_id).order_by("-id").limit(KEYS_SHOWN)
    return await render_page(
        "account/api_keys.html",
        title=i18n.gettext("API keys"),
        keys=[ApiKeyView.of(row) for row in rows],
        grantable=sorted(str(p) for p in Permission if principal.has(p)),
        error=error,
        created=created,
        created_name=created_name,
        status=status,
        headers=headers,
        etag=created is None,
    )
