"""Tracing: spans for requests, database and Redis calls, upstream calls and jobs, carried
from the API to the workers, with the ids in the log lines; nothing at all while it is off."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from quart import Blueprint

from medianest.config.settings import LogSettings
from medianest.core import tracing
from medianest.core.db.models import User
from medianest.core.logging import configure_logging
from medianest.core.web.live import LIVE_PATH, TICKET_PATH
from medianest.sdk import hookimpl
from medianest.sdk.access import signed_in
from medianest.sdk.http import UpstreamClient
from medianest.sdk.web import current_hub
from tests.cli_helpers import medianest
from tests.services import SECRET_KEY

HELLO = {"features": {"hello": True}}


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on for this module's tests, into memory; off again after them."""
    memory = InMemorySpanExporter()
    assert tracing.configure_tracing({}, span_processors=[SimpleSpanProcessor(memory)])
    yield memory
    tracing.disable()
    assert not tracing.enabled()


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    yield exporter
    exporter.clear()


@pytest.fixture
def log_lines():
    """JSON logging into a buffer; the previous setup restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config())
    buffer = io.StringIO()
    configure_logging(LogSettings(level="info", format="json"), stream=buffer)

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line]

    yield lines
    root.handlers[:], root.level = saved[0], saved[1]
    structlog.configure(**saved[2])


class VisitsPlugin:
    """A route that queues the hello plugin's job, as a plugin's route would."""

    @hookimpl
    def register_blueprints(self) -> list[Blueprint]:
        blueprint = Blueprint("visits", __name__)

        @blueprint.post("/visits/<key>")
        @signed_in
        async def visit(key: str) -> tuple[dict, int]:
            handle = await current_hub().jobs.enqueue("hello.count_visit", key=key)
            structlog.get_logger("medianest.test").info("visit queued", job_id=handle.job_id)
            return {"job_id": handle.job_id}, 202

        return [blueprint]


def _hex(number: int, width: int) -> str:
    return format(number, f"0{width}x")


def _server_span(spans: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER and s.name == name]
    assert len(found) == 1, [s.name for s in spans.get_finished_spans()]
    return found[0]


def _descendants(spans: InMemorySpanExporter, root: ReadableSpan) -> list[ReadableSpan]:
    """The spans under ``root`` (children, their children, ...)."""
    finished = spans.get_finished_spans()
    below: list[ReadableSpan] = []
    parents = {root.context.span_id}
    changed = True
    while changed:
        changed = False
        for span in finished:
            if span.parent is not None and span.parent.span_id in parents and span not in below:
                below.append(span)
                parents.add(span.context.span_id)
                changed = True
    return below


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "hub"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console,otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "false"}, True),
    ],
)
def test_the_standard_variables_turn_tracing_on(environ: dict, on: bool) -> None:
    assert tracing.tracing_requested(environ) is on


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


_PROBE = """
    import sys, asyncpg, httpx
    from medianest.config import load_settings
    from medianest.core import tracing
    from medianest.core.app import create_app
    from tortoise.backends.sqlite.client import SqliteClient

    app = create_app(load_settings(data_dir="{data}"), autoload=False)
    print("enabled", tracing.enabled())
    print("middleware", type(app.asgi_app).__name__ == "OpenTelemetryMiddleware")
    print("sdk", "opentelemetry.sdk.trace" in sys.modules)
    print("asyncpg", hasattr(asyncpg.Connection.execute, "__wrapped__"))
    print("httpx", hasattr(httpx.AsyncHTTPTransport.handle_async_request, "__wrapped__"))
    print("sqlite", getattr(SqliteClient.execute_query, "__medianest_traced__", False))
"""


def _probe(tmp_path, **env: str) -> dict[str, str]:
    result = _python(_PROBE.replace("{data}", str(tmp_path)), **env)
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())


@pytest.mark.slow  # starts a Python process of its own
def test_with_tracing_off_nothing_is_set_up(tmp_path) -> None:
    assert _probe(tmp_path) == {
        "enabled": "False",
        "middleware": "False",  # no server spans
        "sdk": "False",  # the SDK is not even imported
        "asyncpg": "False",
        "httpx": "False",
        "sqlite": "False",
    }
    disabled = _probe(tmp_path, OTEL_TRACES_EXPORTER="console", OTEL_SDK_DISABLED="true")
    assert disabled["enabled"] == "False" and disabled["sdk"] == "False"


@pytest.mark.slow  # starts a Python process of its own
def test_the_standard_variables_set_everything_up(tmp_path) -> None:
    assert _probe(tmp_path, OTEL_TRACES_EXPORTER="console") == {
        "enabled": "True",
        "middleware": "True",
        "sdk": "True",
        "asyncpg": "True",
        "httpx": "True",
        "sqlite": "True",
    }


def test_an_exporter_that_is_not_installed_is_named() -> None:
    result = _python(
        """
        from medianest.core import tracing
        from medianest.sdk.errors import ConfigurationError
        for env in ({"OTEL_TRACES_EXPORTER": "zipkin"},
                    {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}):
            try:
                tracing.configure_tracing(env)
            except ConfigurationError as exc:
                print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    zipkin, grpc = result.stdout.splitlines()
    assert "'zipkin'" in zipkin and "OTEL_TRACES_EXPORTER" in zipkin
    assert "'grpc'" in grpc and "http/protobuf" in grpc


# -- requests ---------------------------------------------------------------------------------


async def test_a_request_is_a_server_span_with_database_and_redis_children(
    medianest_hub, mode, spans
) -> None:
    async with medianest_hub.run(**mode) as running:
        headers = await running.sign_in()
        spans.clear()
        response = await running.client.get(
            "/api/v1/me?token=very-secret-token",
            headers={**headers, "traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"},
        )
        assert response.status_code == 200, await response.get_data()
        before = len(spans.get_finished_spans())
        await running.hub.cache.set("outside", 1, ttl=60)  # in no request or job
        with running.hub.database.activate():
            await User.all().count()
        assert len(spans.get_finished_spans()) == before, "calls outside a trace start none"

    server = _server_span(spans, "GET /api/v1/me")
    assert _hex(server.context.trace_id, 32) == "ab" * 16, "the caller's trace goes on"
    assert server.parent is not None and _hex(server.parent.span_id, 16) == "cd" * 8
    assert server.attributes["http.route"] == "/api/v1/me"
    assert server.attributes["http.status_code"] == 200
    recorded = json.dumps(dict(server.attributes))
    assert "very-secret-token" not in recorded and "/api/v1/me" in recorded

    below = _descendants(spans, server)
    systems = {s.attributes.get("db.system") for s in below}
    if mode:
        assert {"postgresql", "redis"} <= systems, [s.name for s in below]
    else:
        assert "sqlite" in systems, [s.name for s in below]
    database = [s for s in below if s.attributes.get("db.system") in {"postgresql", "sqlite"}]
    assert all(s.kind == SpanKind.CLIENT for s in database)
    assert any("SELECT" in str(s.attributes.get("db.statement", "")) for s in database)
    assert not any("very-secret-token" in json.dumps(dict(s.attributes)) for s in below)
    orphans = [s.name for s in spans.get_finished_spans() if s.parent is None and s is not server]
    assert orphans == [], "background calls (health checks, event listeners) start no traces"


async def test_an_unknown_path_is_named_unmatched_not_by_its_path(medianest_hub, spans) -> None:
    async with medianest_hub.run() as running:
        response = await running.client.get("/api/v1/no/such/thing/abc123")
        assert response.status_code == 404
    server = _server_span(spans, "GET unmatched")
    assert "abc123" not in server.name


async def test_a_request_refused_before_its_handler_is_still_named_by_route(
    medianest_hub, spans
) -> None:
    async with medianest_hub.run() as running:
        response = await running.client.get("/api/v1/users/42")
        assert response.status_code == 401
    server = _server_span(spans, "GET /api/v1/users/<int:user_id>")
    assert server.attributes["http.status_code"] == 401


async def test_log_lines_inside_a_request_carry_its_trace_id(
    medianest_hub, spans, log_lines
) -> None:
    async with medianest_hub.run() as running:
        response = await running.client.get("/health/live")
        assert response.status_code == 200
    server = _server_span(spans, "GET /health/live")
    [line] = [entry for entry in log_lines() if entry["event"] == "request"]
    assert line["trace_id"] == _hex(server.context.trace_id, 32)
    assert line["span_id"] == _hex(server.context.span_id, 16)
    structlog.get_logger("medianest.test").info("outside any span")
    [outside] = [entry for entry in log_lines() if entry["event"] == "outside any span"]
    assert "trace_id" not in outside


async def test_a_websocket_is_one_server_span_named_after_its_route(medianest_hub, spans) -> None:
    async with medianest_hub.run() as running:
        headers = await running.sign_in()
        issued = await running.client.post(TICKET_PATH, headers=headers)
        assert issued.status_code == 201
        ticket = (await issued.get_json())["ticket"]
        client = running.app.test_client()
        async with client.websocket(f"{LIVE_PATH}?ticket={ticket}") as socket:
            await socket.send(json.dumps({"type": "subscribe", "topics": ["me"]}))
            answer = json.loads(await asyncio.wait_for(socket.receive(), 10))
            assert answer["type"] == "subscribed"
    server = _server_span(spans, f"WS {LIVE_PATH}")
    assert server.attributes["http.route"] == LIVE_PATH
    assert ticket not in json.dumps(dict(server.attributes))


# -- upstream calls ---------------------------------------------------------------------------


async def _upstream_server() -> tuple[asyncio.Server, list[bytes]]:
    """A tiny HTTP server on an ephemeral port answering ``{}``; keeps each request's head."""
    heads: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            b"Connection: close\r\n\r\n{}"
        )
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0), heads


async def test_an_upstream_call_span_names_its_source_without_secrets(spans) -> None:
    server, heads = await _upstream_server()
    port = server.sockets[0].getsockname()[1]
    try:
        async with UpstreamClient(
            base_url=f"http://127.0.0.1:{port}",
            label="Plex server 'home'",
            source="plex:home",
            plugin="plex",
            secret_params=["secretive"],
        ) as client:
            with tracing.tracer().start_as_current_span("sync") as parent:
                assert (
                    await client.get_json(
                        "/library", params={"X-Plex-Token": "tok-1234", "secretive": "hush-5678"}
                    )
                    == {}
                )
    finally:
        server.close()
        await server.wait_closed()

    [call] = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert call.name == "GET plex:home"
    assert call.attributes["medianest.source"] == "plex:home"
    assert call.attributes["medianest.plugin"] == "plex"
    assert call.parent is not None and call.parent.span_id == parent.get_span_context().span_id
    recorded = json.dumps(dict(call.attributes))
    assert "tok-1234" not in recorded and "hush-5678" not in recorded
    assert f"127.0.0.1:{port}/library" in recorded
    [head] = heads
    traceparent = _hex(call.context.trace_id, 32) + "-" + _hex(call.context.span_id, 16)
    assert traceparent.encode() in head, "the upstream service sees the trace too"


# -- jobs -------------------------------------------------------------------------------------


def _job_spans(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name == f"job {name}"]


async def test_a_job_queued_in_a_request_continues_its_trace_in_process(
    medianest_hub, spans, log_lines
) -> None:
    async with medianest_hub.run({"visits": VisitsPlugin()}, autoload=True, **HELLO) as running:
        headers = await running.sign_in()
        response = await running.client.post("/api/v1/plugins/visits/visits/here", headers=headers)
        assert response.status_code == 202
        job_id = (await response.get_json())["job_id"]
        await running.hub.jobs.join()
        assert await running.hub.cache.get("here") == 1

    server = _server_span(spans, "POST /api/v1/plugins/visits/visits/<key>")
    [job] = _job_spans(spans, "hello.count_visit")
    assert job.kind == SpanKind.CONSUMER
    assert job.context.trace_id == server.context.trace_id
    assert job.parent is not None and job.parent.span_id == server.context.span_id
    assert job.attributes["medianest.job.name"] == "hello.count_visit"
    assert job.attributes["medianest.job.id"] == job_id
    assert job.attributes["medianest.job.try"] == 1
    trace_id = _hex(server.context.trace_id, 32)
    [queued] = [e for e in log_lines() if e["event"] == "visit queued"]
    [done] = [
        e for e in log_lines() if e["event"] == "job succeeded" and e["job"] == "hello.count_visit"
    ]
    assert queued["trace_id"] == done["trace_id"] == trace_id
    assert done["span_id"] == _hex(job.context.span_id, 16)


async def test_a_failed_job_try_is_an_error_span(medianest_hub, spans) -> None:
    from medianest.sdk.jobs import Job

    async def broken(ctx) -> None:
        raise ValueError("no such thing")

    class Broken:
        @hookimpl
        def register_jobs(self) -> list[Job]:
            return [Job(name="broken.job", function=broken, max_tries=1)]

    async with medianest_hub.run({"broken": Broken()}) as running:
        await running.hub.jobs.enqueue("broken.job")
        await running.hub.jobs.join()
    [job] = _job_spans(spans, "broken.job")
    assert job.status.status_code.name == "ERROR"
    assert "ValueError" in (job.status.description or "")
    assert [e.name for e in job.events] == ["exception"]


def _console_spans(text: str) -> list[dict]:
    """The spans the SDK's console exporter printed (JSON objects one after another)."""
    decoder, found, index = json.JSONDecoder(), [], 0
    while (start := text.find("{", index)) != -1:
        span, index = decoder.raw_decode(text, start)
        found.append(span)
    return found


@pytest.mark.slow  # runs a worker process
async def test_a_job_queued_in_a_request_continues_its_trace_on_a_worker(
    medianest_hub, postgres_url, redis_url, spans, tmp_path
) -> None:
    settings = {"database_url": postgres_url, "redis_url": redis_url, "secret_key": SECRET_KEY}
    async with medianest_hub.run(
        {"visits": VisitsPlugin()}, autoload=True, **HELLO, **settings
    ) as running:
        headers = await running.sign_in()
        response = await running.client.post("/api/v1/plugins/visits/visits/far", headers=headers)
        assert response.status_code == 202
        job_id = (await response.get_json())["job_id"]

        result = await asyncio.to_thread(
            medianest,
            tmp_path,
            "worker",
            "--burst",
            MEDIANEST_DATABASE_URL=postgres_url,
            MEDIANEST_REDIS_URL=redis_url,
            MEDIANEST_SECRET_KEY=SECRET_KEY,
            MEDIANEST_FEATURES__HELLO="true",
            MEDIANEST_LOG__FORMAT="json",
            OTEL_TRACES_EXPORTER="console",
            OTEL_SERVICE_NAME="medianest-worker",
        )
        assert result.returncode == 0, result.stderr
        assert await running.hub.cache.get("far") == 1

    server = _server_span(spans, "POST /api/v1/plugins/visits/visits/<key>")
    trace_id = "0x" + _hex(server.context.trace_id, 32)
    worker_spans = _console_spans(result.stdout[result.stdout.find("{") :])
    [job] = [s for s in worker_spans if s["name"] == "job hello.count_visit"]
    assert job["context"]["trace_id"] == trace_id, "the worker continues the request's trace"
    assert job["parent_id"] == "0x" + _hex(server.context.span_id, 16)
    assert job["kind"] == "SpanKind.CONSUMER"
    assert job["attributes"]["medianest.job.id"] == job_id
    assert job["resource"]["attributes"]["service.name"] == "medianest-worker"
    below = [s for s in worker_spans if s["parent_id"] == job["context"]["span_id"]]
    assert any(s["attributes"].get("db.system") == "redis" for s in below), below
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    [done] = [
        e for e in logged if e["event"] == "job succeeded" and e["job"] == "hello.count_visit"
    ]
    assert done["trace_id"] == _hex(server.context.trace_id, 32)
