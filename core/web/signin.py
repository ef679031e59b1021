"""The sign-in API: list the sign-in methods, run one, and learn who signed in.

Interactive providers (Plex): ``POST .../start`` answers the URL the person opens and a
handle; ``POST .../poll`` with the handle answers 202 while they have not approved yet, then
200 with the user. Credentials providers: ``POST .../sign-in`` with what the person typed.

A provider's refusal (``AuthenticationError``) is a 403 problem whose ``detail`` is the
provider's reason; an unknown provider is a 404 naming the known ones; using the wrong flow,
or a ``forward_url`` of another origin, is a 400; a provider that fails or times out is a
502/504 naming it. An interactive sign-in completes once: polling a handle that already
signed someone in is refused.

Completing a sign-in goes through :func:`medianest.core.users.complete_sign_in`, then opens a
session (:mod:`medianest.core.auth.sessions`): the answer carries the user and the session's
tokens (for API clients), and sets the session cookies (for browsers). Every route here is
public and takes no ambient authority, so none needs a CSRF token. Sign-ins and refusals are
recorded in the audit log.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from quart import Blueprint, g, request
from quart_schema import tag, validate_request, validate_response

from medianest.core.auth import audit
from medianest.core.auth.principals import principal_for
from medianest.core.secrets import SecretBox
from medianest.core.users import complete_sign_in
from medianest.core.web import context
from medianest.core.web.session_cookies import cookies_after_this_request, device_of_request
from medianest.core.web.signin_schemas import (
    AuthProviderList,
    AuthProviderView,
    CredentialsSignIn,
    PollSignIn,
    SignedIn,
    SignedInUser,
    SignInChallenge,
    SignInPending,
    StartSignIn,
)
from medianest.sdk.access import public
from medianest.sdk.errors import (
    AuthenticationError,
    InvalidInputError,
    PermissionDeniedError,
    UpstreamTimeoutError,
)
from medianest.sdk.models import Identity
from medianest.sdk.providers import AuthProvider
from medianest.sdk.web import PROBLEM_JSON, responds

if TYPE_CHECKING:
    pass

PROVIDER_TIMEOUT_SECONDS = 30.0
"""How long one call to a provider (start, poll, authenticate) may take."""
FLOWS = ("interactive", "credentials")
COMPLETED_HANDLE_SECONDS = 86_400.0
"""How long a completed interactive sign-in is remembered (longer than any handle lives)."""

signin = Blueprint("signin", __name__, url_prefix="/api/v1/auth")


class SignInRefusedError(PermissionDeniedError):
    """The sign-in method, or this hub, does not let the person in; the message says why."""

    code = "sign_in_refused"


signin.after_request(context.never_cached)  # sign-in answers are about one person


@signin.get("/providers")
@public
@tag(["sign-in"])
@validate_response(AuthProviderList)
async def providers() -> AuthProviderList:
    """The sign-in methods this hub offers."""
    items = [
        AuthProviderView(id=p.id, name=p.name, flow=p.flow)
        for p in context.hub().registry.all("auth_providers")
        if p.flow in FLOWS
    ]
    return AuthProviderList(items=items, total=len(items))


@signin.post("/providers/<provider_id>/start")
@public
@tag(["sign-in"])
@validate_request(StartSignIn)
@validate_response(SignInChallenge)
async def start(provider_id: str, data: StartSignIn) -> SignInChallenge:
    """Begin an interactive sign-in: open ``url``, then poll with ``handle``."""
    provider = _provider(provider_id, "interactive")
    forward_url = same_origin_url(data.forward_url) if data.forward_url else None
    secret_box()  # a hub that could not store the result refuses before anyone approves
    async with _calling(provider):
        challenge = await provider.start(forward_url=forward_url)
    return SignInChallenge(
        url=challenge.url,
        handle=challenge.handle,
        expires_at=challenge.expires_at,
        poll_interval_seconds=challenge.poll_interval_seconds,
        code=challenge.code,
    )


@signin.post("/providers/<provider_id>/poll")
@public
@tag(["sign-in"])
@validate_request(PollSignIn)
@validate_response(SignedIn, 200)
@validate_response(SignInPending, 202)
@responds(401, "The sign-in failed or expired", media_type=PROBLEM_JSON)
@responds(
    403,
    "The sign-in is refused (completed already, or the account is off)",
    media_type=PROBLEM_JSON,
)
async def poll(provider_id: str, data: PollSignIn) -> tuple[SignedIn | SignInPending, int]:
    """Finish an interactive sign-in: 202 while pending, 200 with the user and the session's
    tokens once approved (and the session cookies set). A handle signs in once."""
    provider = _provider(provider_id, "interactive")
    box = secret_box()
    async with _calling(provider):
        identity = await provider.poll(data.handle)
    if identity is None:
        return SignInPending(), 202
    await _complete_once(provider, data.handle, identity)
    return await _signed_in(provider, identity, box), 200


@signin.post("/providers/<provider_id>/sign-in")
@public
@tag(["sign-in"])
@validate_request(CredentialsSignIn)
@validate_response(SignedIn)
@responds(401, "The credentials are wrong", media_type=PROBLEM_JSON)
@responds(
    403, "The sign-in is refused (the account is off, or locked out)", media_type=PROBLEM_JSON
)
async def sign_in(provider_id: str, data: CredentialsSignIn) -> SignedIn:
    """Sign in with typed credentials (providers whose flow is ``credentials``): the user and
    the session's tokens (and the session cookies set)."""
    provider = _provider(provider_id, "credentials")
    box = secret_box()
    async with _calling(provider, attempted=data.credentials.get("username")):
        identity = await provider.authenticate(dict(data.credentials))
    return await _signed_in(provider, identity, box)


def secret_box() -> SecretBox:
    """The :class:`SecretBox` of the current app's hub."""
    return context.hub().secrets


def same_origin_url(url: str) -> str:
    """``url`` as an absolute URL on this hub's origin, for a provider to send browsers to.

    A path (``/sign-in``) is taken relative to the hub. The hub's origin is that of
    ``server.public_url`` when set, else the one the request came to.

    :raises InvalidInputError: ``url`` points elsewhere or is not a plain http(s) URL or path.
    """
    origin = _hub_origin()
    if any(ch in url for ch in "\\\r\n\t") or not url.isprintable():
        raise _foreign(url)
    if url.startswith("/") and not url.startswith("//"):
        return origin + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _foreign(url) from exc
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        raise _foreign(url)
    if _origin(parts.scheme, parts.hostname or "", port) != origin:
        raise _foreign(url)
    return url


async def _signed_in(provider: AuthProvider, identity: Identity, box: SecretBox) -> SignedIn:
    """Record the sign-in, open a session, set its cookies; the answer with its tokens."""
    if identity.provider != provider.id:
        identity = identity.model_copy(update={"provider": provider.id})
    try:
        user = await complete_sign_in(identity, box)
    except AuthenticationError as exc:
        raise await _refused(provider, exc.message, identity.username) from exc
    hub = context.hub()
    await hub.sessions.users.changed(user.id)  # the provider may have renamed them
    ip, user_agent = device_of_request()
    issued = await hub.sessions.start(user, ip=ip, user_agent=user_agent)
    cookies_after_this_request(issued, hub.settings.auth)
    g.user_id = user.id
    await audit.record(
        "sign_in.succeeded",
        actor=principal_for(user),
        target=f"session:{issued.session.id}",
        details={"provider": provider.id},
    )
    return SignedIn(
        provider=provider.id,
        user=SignedInUser.of(user),
        session_id=issued.session.id,
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.access_expires_in,
    )


async def _complete_once(provider: AuthProvider, handle: str, identity: Identity) -> None:
    """Claim ``handle`` for this completion, on every replica at once.

    The rate limiter's atomic fixed window with a limit of one is the claim: the first
    completion fits, any later one (a replayed or leaked handle) does not.

    :raises SignInRefusedError: the handle already signed someone in.
    """
    digest = hashlib.sha256(f"{provider.id}\n{handle}".encode()).hexdigest()
    claim = await context.hub().rate_limiter.hit(
        f"core:sign-in-completed:{digest}", 1, COMPLETED_HANDLE_SECONDS
    )
    if not claim.allowed:
        raise await _refused(
            provider, "this sign-in was already completed; start again", identity.username
        )


async def _refused(
    provider: AuthProvider, reason: str, attempted: str | None
) -> SignInRefusedError:
    """Audit a refused sign-in; the error to raise for it."""
    await audit.record(
        "sign_in.failed",
        actor_label=attempted[:200] if attempted else None,
        target=f"provider:{provider.id}",
        outcome="failure",
        details={"provider": provider.id, "reason": reason},
    )
    return SignInRefusedError(reason)


def _provider(provider_id: str, flow: str) -> AuthProvider:
    """The auth provider ``provider_id``, which must use ``flow``.

    :raises NotFoundError: no such provider (the message lists the known ones).
    :raises InvalidInputError: it uses the other flow.
    """
    provider: AuthProvider = context.hub().registry.get("auth_providers", provider_id)
    if provider.flow != flow:
        base = f"/api/v1/auth/providers/{provider_id}"
        how = (
            f"POST {base}/sign-in with credentials"
            if provider.flow == "credentials"
            else f"POST {base}/start, then {base}/poll"
        )
        raise InvalidInputError(
            f"{provider.name} ({provider_id}) signs in with the {provider.flow} flow: {how}"
        )
    return provider


@asynccontextmanager
async def _calling(provider: AuthProvider, *, attempted: str | None = None) -> AsyncIterator[None]:
    """Bound a provider call in time; its refusals become :class:`SignInRefusedError`.

    The refusal's message is the provider's own reason, without the plugin prefix: it is
    shown to the person as it is. Refusals are audited, with the ``attempted`` username.
    """
    try:
        async with asyncio.timeout(PROVIDER_TIMEOUT_SECONDS):
            yield
    except AuthenticationError as exc:
        raise await _refused(provider, exc.message, attempted) from exc
    except TimeoutError as exc:
        raise UpstreamTimeoutError(
            f"sign-in with {provider.name} did not answer within "
            f"{PROVIDER_TIMEOUT_SECONDS:g} s; try again",
            source=provider.id,
        ) from exc


def _hub_origin() -> str:
    public = context.hub().settings.server.public_url
    parts = urlsplit(public or request.host_url)
    return _origin(parts.scheme, parts.hostname or "", parts.port)


def _origin(scheme: str, host: str, port: int | None) -> str:
    scheme = scheme.lower()
    default = {"http": 80, "https": 443}.get(scheme)
    shown = f"[{host}]" if ":" in host else host.lower()
    return f"{scheme}://{shown}" if port in (None, default) else f"{scheme}://{shown}:{port}"


def _foreign(url: str) -> InvalidInputError:
    shown = url if len(url) <= 100 else url[:100] + "…"
    return InvalidInputError(
        f"forward_url must be a path on this hub or a URL of its origin ({_hub_origin()}); "
        f"got {shown!r}",
        field="forward_url",
    )
