"""Helpers for the session, token and CSRF tests: forging tokens, reading cookies, signing in
through the API as a browser or an API client would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import jwt

from medianest.core.auth.tokens import AUDIENCE, ISSUER, KEY_ID_PURPOSE, SIGNING_PURPOSE
from medianest.core.secrets import derive_key

KEY = "sessions-test-secret-key-0123456789abcdef"
OTHER_KEY = "another-hub-secret-key-0123456789abcdefgh"
ACCOUNTS = {"hello": {"accounts": {"ann": "pw-ann", "bob": "pw-bob"}}}
HELLO_SIGN_IN = "/api/v1/auth/providers/hello/sign-in"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def forge(secret_key: str, *, kid: str | None = None, **overrides: Any) -> str:
    """An access token signed like the hub's with ``secret_key``'s derived key, with claims
    (or ``alg``) overridden; a claim overridden with ``None`` is left out."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "1",
        "sid": "00000000-0000-0000-0000-000000000000",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": "forged",
    }
    algorithm = overrides.pop("alg", "HS256")
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    kid = kid or derive_key(secret_key, KEY_ID_PURPOSE, length=8).hex()
    key = derive_key(secret_key, SIGNING_PURPOSE) if algorithm != "none" else None
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def set_cookies(response) -> dict[str, dict[str, str | bool]]:
    """The cookies a response sets: name → attributes (``value``, ``path``, ``httponly``...)."""
    found: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.getlist("Set-Cookie"):
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            attributes: dict[str, str | bool] = {"value": morsel.value}
            for key in ("path", "max-age", "samesite"):
                if morsel[key]:
                    attributes[key] = str(morsel[key])
            attributes["httponly"] = bool(morsel["httponly"])
            attributes["secure"] = bool(morsel["secure"])
            found[name] = attributes
    return found


async def sign_in_as(client, username: str = "ann", *, password: str | None = None, **kwargs):
    """Sign in with the hello plugin's accounts; the response and its JSON body."""
    credentials = {"username": username, "password": password or f"pw-{username}"}
    headers = {"User-Agent": BROWSER} | kwargs.pop("headers", {})
    response = await client.post(
        HELLO_SIGN_IN, json={"credentials": credentials}, headers=headers, **kwargs
    )
    return response, await response.get_json()


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}
