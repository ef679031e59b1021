"""Structured logs: JSON lines, stdlib loggers routed through structlog, secrets redacted."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest
import structlog

from medianest.config.settings import LogSettings
from medianest.core.logging import configure_logging


@pytest.fixture
def log_lines():
    """Configure JSON logging into a buffer; restore the previous setup afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config())
    buffer = io.StringIO()
    configure_logging(LogSettings(level="info", format="json"), stream=buffer)

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line]

    yield lines
    root.handlers[:], root.level = saved[0], saved[1]
    structlog.configure(**saved[2])


def test_structlog_lines_are_json_with_secrets_redacted(log_lines) -> None:
    structlog.get_logger("medianest.test").info(
        "called",
        plex_token="abc123",
        url="http://pms:32400/x?X-Plex-Token=abc123&a=1",
        database="postgres://app:pw@db/x",
        count=3,
    )
    [line] = [entry for entry in log_lines() if entry["event"] == "called"]
    assert line["plex_token"] == "***"
    assert line["url"] == "http://pms:32400/x?X-Plex-Token=***&a=1"
    assert line["database"] == "postgres://app:***@db/x"
    assert line["count"] == 3 and line["level"] == "info" and line["timestamp"]


def test_stdlib_loggers_go_through_the_same_processors(log_lines) -> None:
    logging.getLogger("hypercorn.error").warning("bad request from //u:secret@host")
    [line] = [entry for entry in log_lines() if entry.get("logger") == "hypercorn.error"]
    assert line["level"] == "warning"
    assert "secret" not in line["event"]


async def test_one_canonical_line_per_request(medianest_hub, log_lines) -> None:
    async with medianest_hub.run() as running:
        response = await running.client.get("/health/live", headers={"X-Request-ID": "req-42"})
        assert response.status_code == 200
    [line] = [entry for entry in log_lines() if entry["event"] == "request"]
    assert line["request_id"] == "req-42"
    assert line["route"] == "/health/live" and line["status"] == 200
    assert line["method"] == "GET" and line["duration_ms"] >= 0
    assert "path" not in line


def test_postgres_reconnection_tries_do_not_flood_the_log(log_lines) -> None:
    pool = logging.getLogger("asyncpg.pool")
    try:
        raise ConnectionRefusedError("connection refused")
    except ConnectionRefusedError:
        for _ in range(3):
            pool.warning("Failed to restore the pool connection floor; retrying", exc_info=True)
    pool.warning("Pool.close() is taking over 60 seconds to complete.")
    lines = [entry for entry in log_lines() if entry.get("logger") == "asyncpg.pool"]
    assert [line["event"] for line in lines] == [
        "Pool.close() is taking over 60 seconds to complete."
    ]


def _request_lines(level: str) -> list[dict]:
    buffer = io.StringIO()
    configure_logging(LogSettings(level=level, format="json"), stream=buffer)
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    with httpx.Client(transport=transport) as client:
        client.get("http://pms.invalid:32400/library/sections")
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    return [line for line in lines if line.get("logger") == "httpx"]


def test_httpx_request_lines_are_debug_detail(log_lines) -> None:
    assert _request_lines("info") == []
    [line] = _request_lines("debug")
    assert line["level"] == "debug" and "HTTP Request: GET" in line["event"]


def test_quiet_logging_keeps_core_warnings_and_everyone_s_errors(log_lines) -> None:
    buffer = io.StringIO()
    configure_logging(LogSettings(level="warning", format="json"), stream=buffer, quiet=True)
    structlog.get_logger("medianest.core.hub").warning("core says")
    structlog.get_logger("medianest_plex.plugin").warning("plugin says")
    structlog.get_logger("medianest_plex.plugin").error("plugin fails")
    logging.getLogger("tortoise").warning("library says")
    events = [json.loads(line)["event"] for line in buffer.getvalue().splitlines() if line]
    assert events == ["core says", "plugin fails"]
