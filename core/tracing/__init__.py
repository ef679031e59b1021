"""Tracing: OpenTelemetry spans for requests, database and Redis calls, upstream calls and jobs.

Off unless the standard ``OTEL_*`` environment variables ask for it (see
:func:`tracing_requested`); while off, nothing is imported, patched or wrapped, and every
helper here is a no-op. When on (``pip install 'medianest[tracing]'``), :func:`configure_tracing`
sets up, once per process:

- a tracer provider from the SDK's own configuration: ``OTEL_SERVICE_NAME`` and
  ``OTEL_RESOURCE_ATTRIBUTES`` (the service is ``medianest`` unless they name one),
  ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``; the exporters ``OTEL_TRACES_EXPORTER`` names
  (``otlp``, the default, is OTLP over HTTP/protobuf configured by ``OTEL_EXPORTER_OTLP_*``;
  ``console`` prints spans), each behind a batch processor;
- the instrumentation of asyncpg (PostgreSQL), tortoise's SQLite client, redis-py and httpx;
- trace and span ids in every log line written inside a span.

The web app wraps itself with :func:`wrap_asgi` (one server span per request or WebSocket,
named after the route pattern); the job queues carry the trace context from the enqueueing
request to the job (:func:`inject_context`, :func:`job_span`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from medianest.core import logging as hub_logging
from medianest.sdk.errors import ConfigurationError
from medianest.sdk.http import UPSTREAM_EXTENSION

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Span, Tracer
    from quart import Quart

TRACE_CONTEXT_KWARG: Final = "_medianest_trace"
"""The job keyword argument that carries the enqueueing side's W3C trace context to an ARQ
worker (``traceparent``, ``tracestate``). Job arguments may not start with ``_``, so it never
meets a job's own; the worker takes it out before calling the job."""

DEFAULT_SERVICE_NAME: Final = "medianest"
SOURCE_ATTRIBUTE: Final = "medianest.source"
PLUGIN_ATTRIBUTE: Final = "medianest.plugin"

_TRUE = {"true", "1", "yes", "on"}
_provider: TracerProvider | None = None


def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``OTEL_*`` variables turn tracing on.

    On when ``OTEL_TRACES_EXPORTER`` names an exporter (not ``none``), or, without it, when an
    OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``).
    ``OTEL_SDK_DISABLED=true`` turns it off whatever else is set.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


def enabled() -> bool:
    """Whether this process traces (:func:`configure_tracing` set it up)."""
    return _provider is not None


def configure_tracing(
    environ: Mapping[str, str] | None = None,
    *,
    span_processors: list[SpanProcessor] | None = None,
) -> bool:
    """Set up tracing for this process if the environment asks for it; returns whether it is on.

    Idempotent: the first call that turns tracing on decides (instrumentation patches libraries
    process-wide).

    :param span_processors: instead of the exporters the environment names (and even when it
        names none): tests pass a processor around an in-memory exporter.
    :raises ConfigurationError: tracing is asked for but ``medianest[tracing]`` is not
        installed, or ``OTEL_TRACES_EXPORTER`` names an exporter that is not installed.
    """
    global _provider
    env = os.environ if environ is None else environ
    if _provider is not None:
        return True
    if span_processors is None and not tracing_requested(env):
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider

        from medianest.core.tracing.sampling import NoOrphanCalls
    except ImportError as exc:  # pragma: no cover - the extra is installed wherever tests run
        raise ConfigurationError(
            "tracing is turned on by the OTEL_* environment variables, but its packages are "
            f"missing: install 'medianest[tracing]' ({exc})"
        ) from exc
    named = bool(env.get("OTEL_SERVICE_NAME", "").strip()) or "service.name=" in env.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {SERVICE_NAME: DEFAULT_SERVICE_NAME})
    provider = TracerProvider(resource=resource)
    # The sampler OTEL_TRACES_SAMPLER names, behind one rule of the hub's (set before any
    # tracer is made: tracers take the provider's sampler when they are created).
    provider.sampler = NoOrphanCalls(provider.sampler)
    if span_processors is None:
        for processor in _exporting(env):
            provider.add_span_processor(processor)
        # Plugins and libraries that ask the API for a tracer get this one too.
        trace.set_tracer_provider(provider)
    else:
        for processor in span_processors:
            provider.add_span_processor(processor)
    _instrument(provider)
    hub_logging.use_trace_ids(_current_ids)
    _provider = provider
    return True


def _exporting(env: Mapping[str, str]) -> list[SpanProcessor]:
    """A batch processor for each exporter ``OTEL_TRACES_EXPORTER`` names, each exporter
    built by its package from its own ``OTEL_EXPORTER_*`` variables."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.util._importlib_metadata import entry_points

    processors: list[SpanProcessor] = []
    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")]
    for name in filter(None, names):
        entry = name
        if name == "otlp":
            protocol = (
                env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf"
            ).strip()
            if protocol != "http/protobuf":
                raise ConfigurationError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: MediaNest "
                    "exports OTLP over HTTP ('http/protobuf'); point it at the collector's "
                    "HTTP port (4318)"
                )
            entry = "otlp_proto_http"
        found = list(entry_points(group="opentelemetry_traces_exporter", name=entry))
        if not found:
            raise ConfigurationError(
                f"OTEL_TRACES_EXPORTER names {name!r}, which no installed package provides "
                "(installed with medianest[tracing]: 'otlp', 'console')"
            )
        exporter = found[0].load()()
        processors.append(BatchSpanProcessor(exporter))
    return processors


def _instrument(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    from medianest.core.tracing import sqlite

    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    RedisInstrumentor().instrument(tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(
        tracer_provider=provider,
        request_hook=_upstream_request,
        async_request_hook=_async_upstream_request,
    )
    sqlite.instrument(provider.get_tracer(__name__))


def disable() -> None:
    """Undo :func:`configure_tracing`: libraries unpatched, buffered spans exported, log lines
    without ids; apps built before keep their middleware. For tests."""
    global _provider
    if _provider is None:
        return
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    from medianest.core.tracing import sqlite

    asyncpg = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    for instrumentor in (asyncpg, RedisInstrumentor(), HTTPXClientInstrumentor()):
        instrumentor.uninstrument()
    sqlite.uninstrument()
    hub_logging.use_trace_ids(None)
    provider, _provider = _provider, None
    provider.shutdown()


def tracer() -> Tracer:
    """Core's tracer.

    :raises RuntimeError: tracing is off.
    """
    if _provider is None:
        raise RuntimeError("tracing is off")
    return _provider.get_tracer("medianest")


def _current_ids() -> tuple[str, str] | None:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# -- requests ------------------------------------------------------------------------------


def wrap_asgi(app: Quart) -> None:
    """Give every HTTP request and WebSocket of ``app`` a server span, when tracing is on.

    The span continues the caller's trace (``traceparent``), is named ``METHOD /route/<id>``
    after the route's pattern (never the path, which can carry ids and secrets), and records
    no query string.
    """
    if not enabled():
        return
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from quart import request, websocket

    app.asgi_app = OpenTelemetryMiddleware(  # type: ignore[method-assign, assignment]
        app.asgi_app,
        exclude_spans=["receive", "send"],
        default_span_details=_unrouted_span_details,
        server_request_hook=_scrub_server_span,
        tracer_provider=_provider,
    )

    async def name_request_span() -> None:
        _name_server_span(request.method, request.url_rule.rule if request.url_rule else None)

    async def name_websocket_span() -> None:
        _name_server_span("WS", websocket.url_rule.rule if websocket.url_rule else None)

    # First of the hooks: a later one may answer (a redirect, a 401) and skip the rest.
    app.before_request_funcs.setdefault(None, []).insert(0, name_request_span)
    app.before_websocket_funcs.setdefault(None, []).insert(0, name_websocket_span)


def _unrouted_span_details(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    method = scope.get("method") or "WS"
    return f"{method} unmatched", {}


def _scrub_server_span(span: Span, scope: dict[str, Any]) -> None:
    """The server span's URL attributes without the query string: it can carry tokens."""
    recorded = getattr(span, "attributes", None) or {}
    path = str(scope.get("path", ""))
    for key in ("http.url", "url.full"):
        if key in recorded:
            span.set_attribute(key, str(recorded[key]).split("?", 1)[0])
    if "http.target" in recorded:
        span.set_attribute("http.target", path)
    if "url.query" in recorded:
        span.set_attribute("url.query", "")


def _name_server_span(method: str, rule: str | None) -> None:
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording():
        return
    route = rule or "unmatched"
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)


# -- upstream calls -------------------------------------------------------------------------


def _upstream_request(span: Span, request: Any) -> None:
    if not span.is_recording():
        return
    url = str(request.url)
    upstream = (request.extensions or {}).get(UPSTREAM_EXTENSION)
    if upstream is None:
        span.set_attribute("url.full", hub_logging.redact_value(url))
        span.set_attribute("http.url", hub_logging.redact_value(url))
        return
    source, plugin, redact = upstream["source"], upstream.get("plugin"), upstream["redact"]
    method = request.method
    span.update_name(f"{method.decode() if isinstance(method, bytes) else method} {source}")
    span.set_attribute(SOURCE_ATTRIBUTE, source)
    if plugin:
        span.set_attribute(PLUGIN_ATTRIBUTE, plugin)
    span.set_attribute("url.full", redact(hub_logging.redact_value(url)))
    span.set_attribute("http.url", redact(hub_logging.redact_value(url)))


async def _async_upstream_request(span: Span, request: Any) -> None:
    _upstream_request(span, request)


# -- jobs -----------------------------------------------------------------------------------


def inject_context() -> dict[str, str]:
    """The current trace context as W3C headers for a job's metadata; ``{}`` while off."""
    if not enabled():
        return {}
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def job_span(
    name: str,
    *,
    job_id: str,
    attempt: int,
    max_tries: int,
    trace_context: Mapping[str, str] | None,
) -> Iterator[Span | None]:
    """A consumer span for one try of job ``name``, continuing ``trace_context`` (the
    enqueueing side's) when given; yields ``None`` while tracing is off."""
    if not enabled():
        yield None
        return
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind

    parent = propagate.extract(dict(trace_context)) if trace_context else None
    with tracer().start_as_current_span(
        f"job {name}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "medianest.job.name": name,
            "medianest.job.id": job_id,
            "medianest.job.try": attempt,
            "medianest.job.max_tries": max_tries,
        },
    ) as span:
        yield span


def record_failure(span: Span | None, error: BaseException) -> None:
    """Mark ``span`` (from :func:`job_span`) as failed with ``error``."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:200]))
