"""The hub's sampling rule, in front of the sampler ``OTEL_TRACES_SAMPLER`` names."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes


class NoOrphanCalls(Sampler):
    """Drops database, Redis and HTTP client spans that belong to no request or job.

    The workers' queue polling, heartbeats, health probes and the hub's background work
    would otherwise each start a trace of their own, many a second. Every other span is left
    to ``delegate``, the configured sampler.
    """

    def __init__(self, delegate: Sampler) -> None:
        self._delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind == SpanKind.CLIENT and not _has_parent(parent_context):
            return SamplingResult(Decision.DROP)
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"NoOrphanCalls{{{self._delegate.get_description()}}}"


def _has_parent(parent_context: Context | None) -> bool:
    return get_current_span(parent_context).get_span_context().is_valid
