"""Logging: structlog everywhere, stdlib loggers (hypercorn, arq, tortoise) routed through it.

JSON lines when the output is not a terminal, readable console output when it is; every line
passes the redaction processor, so a secret never reaches the log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
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


def configure_logging(settings: LogSettings, *, stream: Any = None) -> None:
    """Set up structlog and the stdlib root logger once for this process."""
    stream = stream or sys.stderr
    as_json = settings.format == "json" or (settings.format == "auto" and not stream.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
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
