"""The client: Overseerr's headers, its query encoding, and its errors as SDK errors.

Every request goes through the spec check (``SpecCheckingTransport``)."""

from __future__ import annotations

import httpx
import pytest
from fake_overseerr import API_KEY, FakeOverseerr, instance
from overseerr_testkit import SpecCheckingTransport, check_request

from medianest.sdk.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    UpstreamAuthError,
    UpstreamDataError,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from medianest_overseerr.client import OverseerrClient, encode_query


def test_queries_use_percent_twenty_for_spaces() -> None:
    assert encode_query([("query", "the matrix + co/2"), ("page", 1)]) == (
        "query=the%20matrix%20%2B%20co%2F2&page=1"
    )


def test_the_spec_check_refuses_a_plus_in_the_query() -> None:
    url = "http://127.0.0.1:5055/api/v1/search?query=the+matrix"
    with pytest.raises(AssertionError, match=r"a \+ in the query"):
        check_request(httpx.Request("GET", url, headers={"X-Api-Key": "k"}))


def test_the_spec_check_refuses_what_overseerr_refuses() -> None:
    missing_query = httpx.Request(
        "GET", "http://127.0.0.1:5055/api/v1/search", headers={"X-Api-Key": "k"}
    )
    with pytest.raises(Exception, match="query"):
        check_request(missing_query)


async def test_search_sends_the_key_and_a_valid_query(fake: FakeOverseerr) -> None:
    client, transport = fake.client()
    async with client:
        await client.call("GET", "/status", query=[("x", "a b")])  # extra params are fine
        await client.call("GET", "/auth/me", as_user=2)
    sent = transport.requests
    assert all(r.headers["X-Api-Key"] == API_KEY for r in sent)
    assert "X-Api-User" not in sent[0].headers and sent[1].headers["X-Api-User"] == "2"
    assert sent[0].url.query == b"x=a%20b"


def failing(status: int, body: object = None, **headers: str) -> FakeOverseerr:
    response = (
        httpx.Response(status, json=body, headers=headers)
        if body is not None
        else httpx.Response(status, content=b"<html>oops</html>", headers=headers)
    )
    return FakeOverseerr(fail_with=response)


async def error_of(fake: FakeOverseerr, *, as_user: int | None = None) -> Exception:
    client, _ = fake.client()
    async with client:
        with pytest.raises(Exception) as caught:
            await client.call_json(
                "POST", "/request", as_user=as_user, json_body={"mediaType": "movie", "mediaId": 1}
            )
    return caught.value


async def test_a_quota_refusal_says_quota() -> None:
    error = await error_of(failing(403, {"message": "Movie Quota exceeded."}), as_user=2)
    assert isinstance(error, PermissionDeniedError)
    assert "quota" in error.message and "Overseerr 'home'" in error.message


async def test_a_refusal_for_a_person_is_permission_denied() -> None:
    no_access = {"status": 403, "error": "You do not have permission to access this endpoint"}
    error = await error_of(failing(403, no_access), as_user=2)
    assert isinstance(error, PermissionDeniedError)
    assert "You do not have permission" in error.message


async def test_a_refused_key_is_an_auth_error_without_the_key() -> None:
    no_access = {"status": 403, "error": "You do not have permission to access this endpoint"}
    error = await error_of(failing(403, no_access))
    assert isinstance(error, UpstreamAuthError) and error.source == "overseerr:home"
    assert API_KEY not in str(error)


@pytest.mark.parametrize(
    ("status", "body", "kind", "words"),
    [
        (409, {"message": "Request for this media already exists."}, ConflictError, "already"),
        (
            400,
            {"message": "bad", "errors": [{"path": ".body.mediaType", "message": "enum"}]},
            InvalidInputError,
            "rejected POST /request",
        ),
        (404, {"message": "Not Found"}, NotFoundError, "nothing at"),
        (500, {"message": "boom"}, UpstreamError, "failed with HTTP 500"),
        (429, {"message": "slow"}, UpstreamRateLimitedError, "slow down"),
    ],
)
async def test_overseerr_errors_become_sdk_errors(
    status: int, body: object, kind: type[Exception], words: str
) -> None:
    error = await error_of(failing(status, body), as_user=2)
    assert isinstance(error, kind), error
    assert words in str(error)
    if isinstance(error, InvalidInputError):
        assert error.field == "mediaType"


async def test_garbage_is_bad_data_naming_the_instance() -> None:
    client, _ = failing(200, None).client()
    async with client:
        with pytest.raises(UpstreamDataError, match="Overseerr 'home' answered GET /status"):
            await client.call_json("GET", "/status")


async def test_a_slow_overseerr_is_a_timeout_naming_the_instance() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    transport = SpecCheckingTransport(httpx.MockTransport(slow))
    async with OverseerrClient(instance(timeout=0.5), transport=transport) as client:
        with pytest.raises(UpstreamTimeoutError, match=r"Overseerr 'home' did not answer .* 0.5 s"):
            await client.call_json("GET", "/status")


async def test_an_unreachable_overseerr_names_the_instance() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("All connection attempts failed", request=request)

    transport = SpecCheckingTransport(httpx.MockTransport(down))
    async with OverseerrClient(instance(), transport=transport) as client:
        with pytest.raises(UpstreamUnreachableError, match="could not reach Overseerr 'home'"):
            await client.call_json("GET", "/status")
