"""Prometheus metrics of one hub (its own registry: no process-global collectors)."""

from __future__ import annotations

import os

os.environ.setdefault("PROMETHEUS_DISABLE_CREATED_SERIES", "True")

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The hub's collectors; rendered at ``/metrics``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Histogram(
            "medianest_http_request_duration_seconds",
            "HTTP request duration by route",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_calls = Histogram(
            "medianest_upstream_call_duration_seconds",
            "Calls to external services by source and outcome",
            ["source", "operation", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.jobs = Counter(
            "medianest_jobs_total",
            "Background job runs by job and outcome",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "medianest_job_duration_seconds",
            "Background job duration",
            ["job"],
            buckets=(*LATENCY_BUCKETS, 30, 60, 300, 900),
            registry=self.registry,
        )
        self.component_up = Gauge(
            "medianest_component_up",
            "1 when a component passed its last readiness check",
            ["component"],
            registry=self.registry,
        )

        self.events_dropped = Counter(
            "medianest_events_dropped_total",
            "Domain events dropped: a sink that stayed down, or a full buffer ('buffer')",
            ["sink"],
            registry=self.registry,
        )
        self.sync_runs = Counter(
            "medianest_sync_runs_total",
            "Library sync runs that ended, by source, kind and outcome",
            ["source", "kind", "outcome"],
            registry=self.registry,
        )
        self.sync_items = Counter(
            "medianest_sync_items_total",
            "Catalogue rows library syncs inserted, updated or deleted",
            ["source", "change"],
            registry=self.registry,
        )
        self.sync_last_success = Gauge(
            "medianest_sync_last_success_timestamp_seconds",
            "When the last successful sync of a source ended (Unix time)",
            ["source", "kind"],
            registry=self.registry,
        )

        self.searches = Histogram(
            "medianest_search_duration_seconds",
            "Unified searches by whether the whole answer came from the cache",
            ["cached"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.live_search = Counter(
            "medianest_live_search_total",
            "Live source searches by source and outcome (ok, cached, timeout, error, skipped)",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.circuit_open = Gauge(
            "medianest_circuit_open",
            "1 while a live source's circuit breaker is open (searches skip it)",
            ["source"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every collector."""
        return generate_latest(self.registry)
