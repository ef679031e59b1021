"""Logging: structlog everywhere, stdlib loggers (hypercorn, arq, tortoise) routed through it.

JSON lines when the output is not a terminal, readable console output when it is; every line
passes the redaction processor, so a secret never reaches the log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

from medianest.config.settings import LogSettings

REDACTED = "***"
_SECRET_KEY = re.compile(r"(token|secret|password|passwd|api[_-]?key|authorization|cookie)", re.I)
_SECRET_IN_QUERY = re.compile(r"(?i)(x-plex-token=|api[_-]?key=|token=|password=)([^&\s\"']+)")
_PASSWORD_IN_URL = re.compile(r"(//[^:/@\s]*:)([^@\s/]+)(?=@)")


def redact_value(value: Any) -> Any:
    """``value`` with secrets in URLs and query strings masked."""
    if isinstance(value, str):
        value = _SECRET_IN_QUERY.sub(lambda m: m.group(1) + REDACTED, value)
        return _PASSWORD_IN_URL.sub(lambda m: m.group(1) + REDACTED, value)
    return value


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask fields named like secrets and secrets inside strings."""
    for key, value in list(event.items()):
        if _SECRET_KEY.search(key):
            event[key] = REDACTED
        elif isinstance(value, dict):
            event[key] = {
                k: REDACTED if _SECRET_KEY.search(str(k)) else redact_value(v)
                for k, v in value.items()
            }
        else:
            event[key] = redact_value(value)
    return event


_trace_ids: Callable[[], tuple[str, str] | None] | None = None


def use_trace_ids(current: Callable[[], tuple[str, str] | None] | None) -> None:
    """Have every log line written inside a span carry its ``trace_id`` and ``span_id``.

    :param current: the ids of the current span, ``None`` outside one (tracing sets it when
        it is on); ``None`` stops adding them.
    """
    global _trace_ids
    _trace_ids = current


def add_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: ``trace_id`` and ``span_id`` of the current span, when tracing."""
    if _trace_ids is not None and "trace_id" not in event:
        ids = _trace_ids()
        if ids is not None:
            event["trace_id"], event["span_id"] = ids
    return event


def configure_logging(settings: LogSettings, *, stream: Any = None, quiet: bool = False) -> None:
    """Set up structlog and the stdlib root logger once for this process.

    :param quiet: for short commands (``medianest users list``): below ``error``, only core's
        own records are shown, so what a plugin or library says as it loads is not repeated by
        every command. Long-running processes (``serve``, ``worker``, ``demo``) show everything
        at the configured level.
    """
    stream = stream or sys.stderr
    as_json = settings.format == "json" or (settings.format == "auto" and not stream.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        add_trace_ids,
        redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if as_json else (lambda _, __, e: e),
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    if quiet:
        handler.addFilter(_CoreBelowError())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level.upper())
    for name in ("hypercorn.error", "hypercorn.access", "arq", "tortoise", "asyncio"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # One canonical line per request comes from the app; hypercorn's access log would repeat it.
    logging.getLogger("hypercorn.access").setLevel(logging.WARNING)
    logging.getLogger("tortoise").setLevel(max(logging.INFO, root.level))
    # While PostgreSQL is away, asyncpg's pool warns with a traceback at every reconnection
    # try; the hub logs the outage once and the recovery once itself (readiness, workers).
    pool = logging.getLogger("asyncpg.pool")
    pool.filters[:] = [_RetryNoiseFilter()]
    # httpx logs every request it makes at info ("HTTP Request: GET ..."): a plugin's upstream
    # calls are debugging detail, not the operator's business.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).filters[:] = [_DemoteToDebug()]


class _RetryNoiseFilter(logging.Filter):
    """Passes asyncpg's "Failed to restore the pool connection floor" retries at debug level
    only, without their traceback; every other record unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Failed to restore the pool connection floor"):
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                record.levelno, record.levelname, record.exc_info = logging.DEBUG, "DEBUG", None
                return True
            return False
        return True


class _DemoteToDebug(logging.Filter):
    """Passes info records at debug level (when debug is on), other records unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            if not logging.getLogger().isEnabledFor(logging.DEBUG):
                return False
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


CORE_LOGGER_PREFIX = "medianest."
"""Loggers of core, the SDK, settings and workers (plugins log under their own package)."""


class _CoreBelowError(logging.Filter):
    """Passes every error, and records below error only from core's own loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or record.name.startswith(CORE_LOGGER_PREFIX)
