"""The sessions API: refresh tokens, sign out, and who am I.

- ``POST /api/v1/auth/refresh`` (public): spend a refresh token (body, or the refresh cookie
  with the CSRF header) for the session's next tokens; a spent one revokes the session (401).
- ``POST /api/v1/auth/sign-out`` (public): end the session of the request's access token, or
  of the refresh token given (body, or cookie with the CSRF header); forget the cookies. 204
  even when there was nothing to end.
- ``POST /api/v1/auth/sign-out-everywhere`` (signed in): end every session of the caller.
- ``GET /api/v1/me`` (signed in, API keys too): the caller, and what it acts with.
- ``GET /api/v1/me/sessions``, ``DELETE /api/v1/me/sessions/{id}`` (signed in): the caller's
  live sessions (device, IP, last seen), and ending one of them.

Managing the account (sign-out everywhere, the sessions) needs an interactive session: API
keys are refused there with a 403 ``api_key_not_allowed``.

Answers are never cached. Failures are 401s that never say what was wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart import Blueprint, Response, g, request
from quart_schema import tag, validate_request, validate_response

from medianest.core.auth.errors import InvalidCredentialsError
from medianest.core.auth.sessions import (
    REVOKED_BY_USER,
    SIGNED_OUT,
    SIGNED_OUT_EVERYWHERE,
    IssuedSession,
)
from medianest.core.db.models import Session
from medianest.core.web import context
from medianest.core.web.guard import require_csrf
from medianest.core.web.session_cookies import (
    REFRESH_COOKIE,
    cookies_after_this_request,
    device_of_request,
)
from medianest.core.web.sessions_schemas import (
    Me,
    Refreshed,
    RefreshRequest,
    SessionList,
    SessionView,
    SignedOutEverywhere,
    SignOutRequest,
)
from medianest.core.web.signin_schemas import SignedInUser
from medianest.sdk.access import public, signed_in
from medianest.sdk.errors import NotFoundError
from medianest.sdk.models import Principal
from medianest.sdk.web import PROBLEM_JSON, current_principal, responds

if TYPE_CHECKING:
    from medianest.core.hub import Hub

sessions_api = Blueprint("sessions", __name__, url_prefix="/api/v1")


sessions_api.after_request(context.never_cached)  # tokens and sessions: about one person


@sessions_api.post("/auth/refresh")
@public
@tag(["sessions"])
@validate_request(RefreshRequest)
@validate_response(Refreshed)
@responds(
    401, "The refresh token is missing, unknown, used already or expired", media_type=PROBLEM_JSON
)
async def refresh(data: RefreshRequest) -> Refreshed:
    """Spend a refresh token for new tokens (each refresh token works once)."""
    hub = context.hub()
    token = data.refresh_token
    from_cookie = token is None
    if token is None:
        token = request.cookies.get(REFRESH_COOKIE)
        if not token:
            raise InvalidCredentialsError("no refresh token")
        session = await hub.sessions.session_of(token)
        if session is None:
            raise InvalidCredentialsError("unknown refresh token")
        require_csrf(hub, session.id)
    ip, user_agent = device_of_request()
    issued = await hub.sessions.refresh(token, ip=ip, user_agent=user_agent)
    if from_cookie:
        _cookies_after(hub, issued)
    g.user_id = issued.session.user_id
    return Refreshed(
        session_id=issued.session.id,
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.access_expires_in,
    )


@sessions_api.post("/auth/sign-out")
@public
@tag(["sessions"])
@validate_request(SignOutRequest)
@responds(204, "The session is ended (or there was none); no body")
async def sign_out(data: SignOutRequest) -> Response:
    """End this session and forget its cookies (204, also when there was none)."""
    hub = context.hub()
    session_id = g.get("session_id")
    if session_id is None:
        session_id = await _session_of_refresh_token(hub, data.refresh_token)
    if session_id is not None:
        await hub.sessions.revoke(session_id, reason=SIGNED_OUT, actor=current_principal())
    _cookies_after(hub, None)
    return Response(status=204)


@sessions_api.post("/auth/sign-out-everywhere")
@signed_in
@tag(["sessions"])
@validate_response(SignedOutEverywhere)
async def sign_out_everywhere() -> SignedOutEverywhere:
    """End every session of the caller, on every device, and forget this one's cookies."""
    hub = context.hub()
    principal = _caller()
    count = await hub.sessions.revoke_all(
        principal.user_id, reason=SIGNED_OUT_EVERYWHERE, actor=principal
    )
    _cookies_after(hub, None)
    return SignedOutEverywhere(revoked=count)


@sessions_api.get("/me")
@signed_in(api_keys=True)
@tag(["sessions"])
@validate_response(Me)
async def me() -> Me:
    """Who this request runs as: the user, and the role and permissions it acts with."""
    principal = _caller()
    return Me(
        user=SignedInUser.of(g.current_user),
        role=principal.role,
        permissions=sorted(principal.permissions),
        authenticated_by=g.authenticated_by,
        session_id=g.session_id,
    )


@sessions_api.get("/me/sessions")
@signed_in
@tag(["sessions"])
@validate_response(SessionList)
async def my_sessions() -> SessionList:
    """The caller's live sessions, most recently seen first; ``current`` marks this one."""
    principal = _caller()
    sessions = await context.hub().sessions.active_sessions(principal.user_id)
    items = [SessionView.of(s, current_id=g.session_id) for s in sessions]
    return SessionList(items=items, total=len(items))


@sessions_api.delete("/me/sessions/<session_id>")
@signed_in
@tag(["sessions"])
@responds(204, "The session is ended; no body")
async def end_my_session(session_id: str) -> Response:
    """End one of the caller's sessions (204); 404 when it is not a live session of theirs."""
    hub = context.hub()
    await end_own_session(hub, _caller(), session_id)
    if session_id == g.session_id:
        _cookies_after(hub, None)
    return Response(status=204)


async def end_own_session(hub: Hub, principal: Principal, session_id: str) -> None:
    """End ``principal``'s live session ``session_id`` (the API's and the page's rule).

    :raises NotFoundError: it is not a live session of theirs.
    """
    live = {s.id for s in await hub.sessions.active_sessions(principal.user_id)}
    if session_id not in live:
        raise NotFoundError("you have no live session with this id")
    await hub.sessions.revoke(session_id, reason=REVOKED_BY_USER, actor=principal)


async def _session_of_refresh_token(hub: Hub, given: str | None) -> str | None:
    """The live session of the refresh token in the body, or in the cookie (with CSRF)."""
    token = given or request.cookies.get(REFRESH_COOKIE)
    if not token:
        return None
    session: Session | None = await hub.sessions.session_of(token)
    if session is None:
        return None
    if given is None:
        require_csrf(hub, session.id)
    return session.id


def _cookies_after(hub: Hub, issued: IssuedSession | None) -> None:
    cookies_after_this_request(issued, hub.settings.auth)


def _caller() -> Principal:
    principal = current_principal()
    if principal is None:  # the route's declaration refuses this before the view runs
        raise InvalidCredentialsError("no principal on a signed-in route")
    return principal
