"""Access tokens and CSRF tokens on their own: what verifies and what is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from medianest.core.auth.csrf import CsrfTokens
from medianest.core.auth.errors import InvalidCredentialsError
from medianest.core.auth.tokens import AccessTokens
from tests.auth_testing import KEY, OTHER_KEY, forge

LIFETIME = timedelta(minutes=15)
SESSION = "6f1c1a52-6f9e-4f52-9d61-0f7bbf0d2b1e"


@pytest.fixture
def tokens() -> AccessTokens:
    return AccessTokens([KEY], lifetime=LIFETIME)


def test_an_issued_token_verifies_with_its_claims(tokens: AccessTokens) -> None:
    issued = tokens.issue(7, SESSION)
    claims = tokens.verify(issued.token)
    assert (claims.user_id, claims.session_id) == (7, SESSION)
    assert claims.expires_at - claims.issued_at == LIFETIME
    assert claims == issued.claims
    assert tokens.issue(7, SESSION).claims.token_id != issued.claims.token_id


def test_the_key_id_names_the_key_without_revealing_it(tokens: AccessTokens) -> None:
    header = jwt.get_unverified_header(tokens.issue(1, SESSION).token)
    assert header == {"alg": "HS256", "kid": tokens.current_key_id, "typ": "JWT"}
    assert KEY not in tokens.current_key_id
    assert AccessTokens([OTHER_KEY], lifetime=LIFETIME).current_key_id != tokens.current_key_id


def test_an_expired_token_is_refused(tokens: AccessTokens) -> None:
    old = tokens.issue(1, SESSION, now=datetime.now(UTC) - LIFETIME - timedelta(minutes=1))
    with pytest.raises(InvalidCredentialsError, match="ExpiredSignature"):
        tokens.verify(old.token)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "InvalidAudience"),
        ({"iss": "not-medianest"}, "InvalidIssuer"),
        ({"sid": None}, "MissingRequiredClaim"),
        ({"jti": None}, "MissingRequiredClaim"),
        ({"exp": None}, "MissingRequiredClaim"),
        ({"sub": "admin"}, "wrong type"),
        ({"iat": int(datetime.now(UTC).timestamp()) + 3600}, "ImmatureSignature"),
    ],
)
def test_tokens_with_wrong_claims_are_refused(tokens: AccessTokens, claims, reason) -> None:
    with pytest.raises(InvalidCredentialsError, match=reason):
        tokens.verify(forge(KEY, **claims))


def test_a_token_forged_with_our_claims_verifies(tokens: AccessTokens) -> None:
    assert tokens.verify(forge(KEY, sub="3")).user_id == 3


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        "a.b.c",
        forge(OTHER_KEY),  # another hub's key: an unknown kid
        forge(KEY, alg="none"),
        forge(KEY, kid="0000000000000000"),
    ],
)
def test_malformed_foreign_and_unsigned_tokens_are_refused(tokens: AccessTokens, token) -> None:
    with pytest.raises(InvalidCredentialsError):
        tokens.verify(token)


def test_a_token_signed_with_another_key_under_our_kid_is_refused(tokens: AccessTokens) -> None:
    with pytest.raises(InvalidCredentialsError, match="InvalidSignature"):
        tokens.verify(forge(OTHER_KEY, kid=tokens.current_key_id))


def test_a_tampered_token_is_refused(tokens: AccessTokens) -> None:
    header, payload, signature = tokens.issue(1, SESSION).token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "2"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidCredentialsError, match="InvalidSignature"):
        tokens.verify(f"{header}.{forged}.{signature}")


def test_tokens_of_a_previous_key_verify_after_rotation() -> None:
    before = AccessTokens([KEY], lifetime=LIFETIME)
    token = before.issue(5, SESSION).token
    after = AccessTokens([OTHER_KEY, KEY], lifetime=LIFETIME)
    assert after.verify(token).user_id == 5
    assert after.current_key_id != before.current_key_id
    assert jwt.get_unverified_header(after.issue(5, SESSION).token)["kid"] == after.current_key_id
    with pytest.raises(InvalidCredentialsError):
        before.verify(after.issue(5, SESSION).token)
    with pytest.raises(InvalidCredentialsError):
        AccessTokens([OTHER_KEY], lifetime=LIFETIME).verify(token)


def test_csrf_tokens_are_bound_to_the_session_and_survive_rotation() -> None:
    csrf = CsrfTokens([KEY])
    token = csrf.for_session(SESSION)
    assert csrf.is_valid(SESSION, token)
    assert not csrf.is_valid("another-session", token)
    assert not csrf.is_valid(SESSION, token[:-1])
    assert not csrf.is_valid(SESSION, "é" + token)
    assert CsrfTokens([OTHER_KEY, KEY]).is_valid(SESSION, token)
    assert not CsrfTokens([OTHER_KEY]).is_valid(SESSION, token)


def test_no_key_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        AccessTokens([], lifetime=LIFETIME)
    with pytest.raises(ValueError):
        CsrfTokens([])
