"""The cookies a browser session lives in, and the CSRF header that goes with them.

- :data:`ACCESS_COOKIE`: the access token; httpOnly, ``SameSite=Lax``, sent to every path,
  lives as long as the token.
- :data:`REFRESH_COOKIE`: the refresh token; httpOnly, ``SameSite=Strict``, sent only to
  ``/api/v1/auth`` (refresh and sign-out), lives as long as the session.
- :data:`CSRF_COOKIE`: the session's CSRF token; readable by the page's script, which echoes
  it in :data:`CSRF_HEADER` on unsafe requests.

All are ``Secure`` as ``auth.cookie_secure`` says (``auto``: when the request came over HTTPS).
"""

from __future__ import annotations

from typing import Literal

from quart import Response, after_this_request, g, request
from quart.typing import ResponseTypes

from medianest.config.settings import AuthSettings
from medianest.core.auth.sessions import IssuedSession

ACCESS_COOKIE = "medianest_access"
REFRESH_COOKIE = "medianest_refresh"
CSRF_COOKIE = "medianest_csrf"
CSRF_HEADER = "X-CSRF-Token"
REFRESH_COOKIE_PATH = "/api/v1/auth"


def cookies_secure(setting: Literal["auto", "always", "never"]) -> bool:
    """Whether cookies set on the current request get the ``Secure`` attribute."""
    if setting == "auto":
        return request.scheme == "https"
    return setting == "always"


def set_session_cookies(response: Response, issued: IssuedSession, auth: AuthSettings) -> None:
    """Put ``issued``'s access, refresh and CSRF tokens into cookies on ``response``."""
    secure = cookies_secure(auth.cookie_secure)
    response.set_cookie(
        ACCESS_COOKIE,
        issued.access_token,
        max_age=issued.access_expires_in,
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )
    response.set_cookie(
        REFRESH_COOKIE,
        issued.refresh_token,
        max_age=issued.refresh_expires_in,
        path=REFRESH_COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="Strict",
    )
    response.set_cookie(
        CSRF_COOKIE,
        issued.csrf_token,
        max_age=issued.refresh_expires_in,
        path="/",
        secure=secure,
        httponly=False,
        samesite="Strict",
    )


def clear_session_cookies(response: ResponseTypes, auth: AuthSettings) -> None:
    """Tell the browser to forget the session's cookies."""
    secure = cookies_secure(auth.cookie_secure)
    for name, path, httponly, samesite in (
        (ACCESS_COOKIE, "/", True, "Lax"),
        (REFRESH_COOKIE, REFRESH_COOKIE_PATH, True, "Strict"),
        (CSRF_COOKIE, "/", False, "Strict"),
    ):
        response.delete_cookie(name, path=path, secure=secure, httponly=httponly, samesite=samesite)


def device_of_request() -> tuple[str | None, str | None]:
    """The client IP and user agent of the current request, as a session records them."""
    return g.get("client_ip") or request.remote_addr, request.headers.get("User-Agent")


def cookies_after_this_request(issued: IssuedSession | None, auth: AuthSettings) -> None:
    """Set ``issued``'s cookies on the current request's response, or clear them (``None``)."""

    @after_this_request  # type: ignore[arg-type]  # quart's own responses only, here
    async def cookies(response: Response) -> Response:
        if issued is None:
            clear_session_cookies(response, auth)
        else:
            set_session_cookies(response, issued, auth)
        return response
