"""``medianest.sdk.http.UpstreamClient`` against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, Response, request

from medianest.sdk import (
    NotFoundError,
    UpstreamAuthError,
    UpstreamDataError,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from medianest.sdk.http import UpstreamClient, parse_retry_after

TOKEN = "s3cr3t-t0ken-abcdef"
SOURCE = "demo:upstream"


def upstream_app() -> Quart:
    """An upstream service that answers every way a real one can go wrong."""
    app = Quart("upstream")

    @app.get("/items")
    async def items() -> Response:
        echo = {
            "token": request.headers.get("X-Api-Key"),
            "agent": request.headers.get("X-Client"),
            "q": request.args.getlist("q"),
        }
        return Response(_json(echo), content_type="application/json")

    @app.route("/status/<int:code>", methods=["GET", "POST"])
    async def status(code: int) -> Response:
        body = request.args.get("body", "")
        response = Response(body, status=code, content_type="application/json")
        if "retry" in request.args:
            response.headers["Retry-After"] = request.args["retry"]
        if "location" in request.args:
            response.headers["Location"] = request.args["location"]
        return response

    @app.get("/slow")
    async def slow() -> Response:
        await asyncio.sleep(3)
        return Response("{}", content_type="application/json")

    @app.get("/body")
    async def body() -> Response:
        return Response(request.args["text"], content_type=request.args["type"])

    return app


def _json(value: object) -> str:
    import json

    return json.dumps(value)


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = 0.5
    stop = asyncio.Event()
    trigger: Callable[[], Awaitable[None]] = stop.wait  # type: ignore[assignment]
    task = asyncio.create_task(serve(upstream_app(), config, shutdown_trigger=trigger))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[UpstreamClient]:
    async with UpstreamClient(
        base_url=base_url,
        label="Demo service",
        source=SOURCE,
        plugin="demo",
        timeout=5,
        headers={"X-Api-Key": TOKEN, "X-Client": "MediaNest"},
    ) as upstream:
        yield upstream


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def assert_clean(error: Exception) -> None:
    """The error says nothing of the token, in its message or its string form."""
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error.args)


async def test_a_json_answer_is_decoded_with_headers_and_params_sent(
    client: UpstreamClient,
) -> None:
    body = await client.get_json("/items", params=[("q", "a"), ("q", "b")])
    assert body == {"token": TOKEN, "agent": "MediaNest", "q": ["a", "b"]}


async def test_a_mapping_of_params_is_sent_too(client: UpstreamClient) -> None:
    body, response = await client.request_json("GET", "/items", params={"q": "x"})
    assert body["q"] == ["x"] and response.status_code == 200


async def test_no_answer_in_time_is_a_timeout_naming_the_service_and_the_call(
    client: UpstreamClient,
) -> None:
    with pytest.raises(UpstreamTimeoutError) as caught:
        await client.get_json("/slow", time_limit=0.3)
    error = caught.value
    assert error.message == "Demo service did not answer GET /slow within 0.3 s"
    assert error.source == SOURCE and error.plugin == "demo" and error.status is None


async def test_a_refused_connection_is_unreachable_naming_the_address() -> None:
    url = closed_port_url()
    async with UpstreamClient(base_url=url, label="Demo service", source=SOURCE) as upstream:
        with pytest.raises(UpstreamUnreachableError) as caught:
            await upstream.get_json("/items")
    assert isinstance(caught.value, UpstreamError)
    assert caught.value.message == (
        f"could not reach Demo service at {url} for GET /items: connection refused"
    )
    assert caught.value.status is None


async def test_a_connection_closed_without_an_answer_is_unreachable() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with UpstreamClient(
            base_url=f"http://127.0.0.1:{port}", label="Demo service", source=SOURCE
        ) as upstream:
            with pytest.raises(UpstreamUnreachableError) as caught:
                await upstream.get_json("/items")
    finally:
        server.close()
        await server.wait_closed()
    assert caught.value.message.endswith(
        "for GET /items: the connection was closed without a valid answer"
    )


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_are_an_auth_error_with_the_upstream_reason(
    client: UpstreamClient, status: int
) -> None:
    body = _json({"errors": [{"code": 1001, "message": "User could not be authenticated"}]})
    with pytest.raises(UpstreamAuthError) as caught:
        await client.get_json(f"/status/{status}", params={"body": body})
    assert caught.value.status == status
    assert caught.value.message == (
        f"Demo service refused our credentials (HTTP {status}) for GET /status/{status}: "
        "User could not be authenticated"
    )


async def test_nothing_there_is_not_found(client: UpstreamClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.get_json("/status/404")
    assert caught.value.message == "Demo service has nothing at GET /status/404 (HTTP 404)"
    assert caught.value.plugin == "demo"


async def test_too_many_requests_carries_retry_after_in_seconds(client: UpstreamClient) -> None:
    with pytest.raises(UpstreamRateLimitedError) as caught:
        await client.get_json("/status/429", params={"retry": "7"})
    assert caught.value.retry_after == 7.0 and caught.value.status == 429
    assert caught.value.message.endswith("on GET /status/429; retry after 7 s")


async def test_retry_after_as_an_http_date_is_turned_into_seconds(client: UpstreamClient) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    with pytest.raises(UpstreamRateLimitedError) as caught:
        await client.get_json("/status/429", params={"retry": when})
    assert caught.value.retry_after is not None and 25 <= caught.value.retry_after <= 30


async def test_too_many_requests_without_retry_after_leaves_it_to_the_caller(
    client: UpstreamClient,
) -> None:
    with pytest.raises(UpstreamRateLimitedError) as caught:
        await client.get_json("/status/429")
    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_is_an_upstream_error_with_its_status(
    client: UpstreamClient, status: int
) -> None:
    with pytest.raises(UpstreamError) as caught:
        await client.get_json(f"/status/{status}", params={"body": _json({"detail": "db down"})})
    assert type(caught.value) is UpstreamError and caught.value.status == status
    assert caught.value.message == (
        f"Demo service failed with HTTP {status} on GET /status/{status}: db down"
    )


async def test_another_client_error_says_the_call_was_rejected(client: UpstreamClient) -> None:
    with pytest.raises(UpstreamError) as caught:
        await client.request("POST", "/status/422", json_body={"a": 1})
    assert caught.value.message == "Demo service rejected POST /status/422 with HTTP 422"


async def test_a_redirect_is_not_followed_and_hides_a_token_in_its_location(
    client: UpstreamClient,
) -> None:
    location = f"https://elsewhere.example/x?token={TOKEN}&page=2"
    with pytest.raises(UpstreamError) as caught:
        await client.get_json("/status/302", params={"location": location})
    assert caught.value.status == 302
    assert "to https://elsewhere.example/x?token=***&page=2" in caught.value.message
    assert_clean(caught.value)


@pytest.mark.parametrize(
    ("text", "content_type", "said"),
    [
        ("{not json", "application/json", "a body that is not valid JSON"),
        ("", "application/json", "a body that is not valid JSON"),
        ("<MediaContainer/>", "text/xml;charset=utf-8", "XML instead of JSON"),
        ("<html><body>Sign in</body></html>", "text/html", "HTML instead of JSON"),
    ],
)
async def test_a_body_that_is_not_json_is_a_data_error(
    client: UpstreamClient, text: str, content_type: str, said: str
) -> None:
    with pytest.raises(UpstreamDataError) as caught:
        await client.get_json("/body", params={"text": text, "type": content_type})
    assert caught.value.message == f"Demo service answered GET /body with {said}"
    assert caught.value.status == 200 and caught.value.source == SOURCE


async def test_xml_is_parsed_and_malformed_or_dtd_bearing_xml_refused(
    client: UpstreamClient,
) -> None:
    good = await client.request("GET", "/body", params={"text": "<a><b x='1'/></a>", "type": "a/x"})
    assert client.xml(good, "GET /body").find("b").attrib == {"x": "1"}  # type: ignore[union-attr]
    bad = await client.request("GET", "/body", params={"text": "<a><b></a>", "type": "a/x"})
    with pytest.raises(UpstreamDataError, match="not well-formed XML"):
        client.xml(bad, "GET /body")
    bomb = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'
    evil = await client.request("GET", "/body", params={"text": bomb, "type": "text/xml"})
    with pytest.raises(UpstreamDataError, match="declares a document type"):
        client.xml(evil, "GET /body")


async def test_tokens_never_appear_in_messages_or_logs(
    client: UpstreamClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="medianest.sdk.http")
    echoed = _json({"message": f"bad key {TOKEN}"})
    with pytest.raises(UpstreamAuthError) as caught:
        await client.get_json("/status/401", params={"body": echoed})
    assert caught.value.message.endswith(": bad key ***")
    assert_clean(caught.value)
    with pytest.raises(NotFoundError) as missing:
        await client.get_json(f"/status/404?api_key={TOKEN}")
    assert "api_key=***" in missing.value.message
    assert_clean(missing.value)
    with pytest.raises(UpstreamError) as server:
        await client.get_json("/status/500", params={"token": TOKEN, "body": echoed})
    assert_clean(server.value)
    assert caplog.records and all(TOKEN not in r.getMessage() for r in caplog.records)
    assert any("token=***" in r.getMessage() for r in caplog.records)


async def test_a_token_given_to_one_request_is_hidden_too(client: UpstreamClient) -> None:
    other = "per-request-secret-42"
    echoed = _json({"message": f"Bearer {other} revoked"})
    with pytest.raises(UpstreamAuthError) as caught:
        await client.request(
            "GET",
            "/status/403",
            params={"body": echoed},
            headers={"Authorization": f"Bearer {other}"},
        )
    assert other not in caught.value.message and "revoked" in caught.value.message


async def test_credentials_in_the_base_url_are_hidden() -> None:
    url = closed_port_url().replace("http://", f"http://user:{TOKEN}@")
    async with UpstreamClient(base_url=url, label="Demo service", source=SOURCE) as upstream:
        with pytest.raises(UpstreamUnreachableError) as caught:
            await upstream.get_json("/items")
    assert "http://***@127.0.0.1" in caught.value.message
    assert_clean(caught.value)


async def test_closing_the_client_closes_its_connections(base_url: str) -> None:
    upstream = UpstreamClient(base_url=base_url, label="Demo service", source=SOURCE)
    assert not upstream.closed
    await upstream.aclose()
    assert upstream.closed


def test_a_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout must be positive"):
        UpstreamClient(base_url="http://127.0.0.1:1", label="x", source="x", timeout=0)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("12", 12.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("nan", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds
