"""The live-source fan-out: cache, single flight, timeouts, output checks, circuit breakers,
runtime flags, and how they show in health and the plugins endpoint (both runtime modes)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from medianest.core.hub import Hub
from medianest.core.search import live as live_module
from medianest.core.search.breaker import CircuitBreaker, CircuitState
from medianest.core.search.live import CACHE_PREFIX, LiveSearch, SourceOutcome
from medianest.core.search.query import SearchRequest
from medianest.core.state import MemoryCache
from medianest.sdk import Flag, MediaKind, RateLimitedError, hookimpl
from medianest.sdk.testing import HubHarness, RunningHub
from tests.search.fake_live import (
    LIVE_SEARCH_SETTINGS,
    FakeLivePlugin,
    FakeLiveSource,
    live_item,
)
from tests.services import SECRET_KEY
from tests.sync.fake_source import FakeLibrary, FakePlugin

TUBE = "fakelive:tube"
POD = "otherlive:pod"


class FakeClock:
    """Monotonic seconds a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def ask(hub: Hub, text: str = "star", *sources: str, **request: Any) -> SourceOutcome:
    """The outcome of one source (``TUBE`` by default) for a search of ``text``."""
    [outcome] = await hub.live.search(SearchRequest(text=text, **request), list(sources or [TUBE]))
    return outcome


def counted(hub: Hub, source: str, outcome: str) -> float:
    value = hub.metrics.registry.get_sample_value(
        "medianest_live_search_total", {"source": source, "outcome": outcome}
    )
    return value or 0.0


def upstream(hub: Hub, source: str, outcome: str) -> float:
    value = hub.metrics.registry.get_sample_value(
        "medianest_upstream_call_duration_seconds_count",
        {"source": source, "operation": "search", "outcome": outcome},
    )
    return value or 0.0


def circuit_gauge(hub: Hub, source: str) -> float | None:
    return hub.metrics.registry.get_sample_value("medianest_circuit_open", {"source": source})


def with_clock(running: RunningHub) -> FakeClock:
    """Give the hub a fan-out whose breakers read a clock the test moves."""
    clock = FakeClock()
    hub = running.hub
    live = LiveSearch(
        hub.settings.search,
        registry=hub.registry,
        metrics=hub.metrics,
        mode=hub.mode,
        clock=clock,
    )
    live.start(cache=hub.cache, flags=hub.flags, pubsub=hub.pubsub)
    hub.live = hub.search.live = live
    return clock


# answers ---------------------------------------------------------------------------------------


async def test_a_live_source_answers_with_the_items_the_request_wants(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    hub = live_hub.hub
    outcome = await ask(hub, "  Star ", kinds=frozenset({MediaKind.MOVIE}))
    assert outcome.status == "ok" and outcome.detail is None and not outcome.cached
    assert [item.ref.item_id for item in outcome.items] == ["sw", "stt", "ls"]
    assert outcome.latency_ms is not None and outcome.latency_ms >= 0
    [query] = tube.queries
    assert query.text == "Star" and query.kinds == {MediaKind.MOVIE}
    assert query.limit == hub.settings.search.live_limit and query.year is None
    assert counted(hub, TUBE, "ok") == 1 and upstream(hub, TUBE, "ok") == 1


async def test_items_are_filtered_by_the_request_even_when_the_source_ignores_filters(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    tube.matching = lambda query: list(tube.items)  # type: ignore[method-assign]
    outcome = await ask(live_hub.hub, "star", year=1977)
    assert [item.ref.item_id for item in outcome.items] == ["sw"]


async def test_sources_are_asked_concurrently_one_outcome_each_in_order(
    live_hub: RunningHub, tube: FakeLiveSource, pod: FakeLiveSource
) -> None:
    tube.latency = pod.latency = 0.2
    started = time.perf_counter()
    outcomes = await live_hub.hub.live.search(SearchRequest(text="heat"), [POD, TUBE])
    elapsed = time.perf_counter() - started
    assert [(o.source, o.status) for o in outcomes] == [(POD, "ok"), (TUBE, "ok")]
    assert [i.title for i in outcomes[0].items] == ["Heat Wave"]
    assert [i.title for i in outcomes[1].items] == ["Heat"]
    assert elapsed < 0.35


async def test_an_unknown_or_library_source_is_an_error_not_a_crash(live_hub: RunningHub) -> None:
    outcome = await ask(live_hub.hub, "star", "fakelive:nope")
    assert outcome.status == "error"
    assert outcome.detail == "fakelive:nope is not a live-search source of this hub"


async def test_sources_and_circuits_list_the_live_sources_in_registry_order(
    live_hub: RunningHub,
) -> None:
    live = live_hub.hub.live
    assert [source.id for source in live.sources()] == [TUBE, POD]
    assert [view.source for view in live.circuits()] == [TUBE, POD]
    assert live.circuit(TUBE).state is CircuitState.CLOSED  # type: ignore[union-attr]
    assert live.circuit("plex:home") is None
    assert circuit_gauge(live_hub.hub, TUBE) == 0


# cache and single flight -----------------------------------------------------------------------


async def test_the_second_search_is_answered_from_the_cache(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    hub = live_hub.hub
    first = await ask(hub, "star wars")
    second = await ask(hub, "STAR   wars", offset=20, limit=5)
    assert tube.calls == 1
    assert (first.status, first.cached) == ("ok", False)
    assert (second.status, second.cached) == ("ok", True)
    assert second.items == first.items and [i.title for i in second.items] == ["Star Wars"]
    assert counted(hub, TUBE, "cached") == 1 and counted(hub, TUBE, "ok") == 1
    assert upstream(hub, TUBE, "ok") == 1
    other_shape = await ask(hub, "star wars", year=1977)
    assert (other_shape.cached, tube.calls) == (False, 2)


@pytest.mark.postgres
@pytest.mark.redis
async def test_scaled_replicas_share_answers_through_redis(
    medianest_hub: HubHarness, tube: FakeLiveSource, migrated_postgres_url: str, redis_url: str
) -> None:
    plugin = {"fakelive": FakeLivePlugin(tube)}
    scaled = {
        "database_url": migrated_postgres_url,
        "redis_url": redis_url,
        "secret_key": SECRET_KEY,
    }
    async with (
        medianest_hub.run(plugin, search=LIVE_SEARCH_SETTINGS, **scaled) as first,
        medianest_hub.run(plugin, search=LIVE_SEARCH_SETTINGS, **scaled) as second,
    ):
        assert first.hub.live.cache is first.hub.cache
        key = first.hub.live.cache_key(TUBE, SearchRequest(text="star"))
        assert key.startswith(f"{CACHE_PREFIX}{TUBE}:")
        assert (await ask(first.hub)).cached is False
        assert isinstance(await first.hub.cache.get(key), list)
        answered = await ask(second.hub)
        assert (answered.status, answered.cached, tube.calls) == ("ok", True, 1)


async def test_embedded_mode_keeps_answers_in_a_bounded_cache_of_their_own(
    medianest_hub: HubHarness, tube: FakeLiveSource
) -> None:
    tube.items = [live_item(TUBE, f"Star {n}", item_id=str(n)) for n in range(50)]
    tube.matching = lambda query: tube.items  # type: ignore[method-assign]
    settings = {**LIVE_SEARCH_SETTINGS, "cache_max_bytes": 64 * 1024}
    async with medianest_hub.run({"fakelive": FakeLivePlugin(tube)}, search=settings) as running:
        cache = running.hub.live.cache
        assert isinstance(cache, MemoryCache) and cache is not running.hub.cache
        for n in range(200):
            assert (await ask(running.hub, f"star {n}")).status == "ok"
        assert cache.size_bytes <= 64 * 1024 and cache.evicted > 0
        assert 0 < len(cache) < 200
        newest = running.hub.live.cache_key(TUBE, SearchRequest(text="star 199"))
        assert await cache.get(newest) is not None
        assert await running.hub.cache.get(newest) is None


async def test_twenty_identical_concurrent_searches_make_one_upstream_call(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    tube.latency = 0.1
    outcomes = await asyncio.gather(*(ask(live_hub.hub, "star") for _ in range(20)))
    assert tube.calls == 1
    assert {o.status for o in outcomes} == {"ok"}
    assert all(o.items == outcomes[0].items for o in outcomes) and outcomes[0].items
    assert upstream(live_hub.hub, TUBE, "ok") == 1


async def test_searches_differing_only_in_case_and_spacing_share_one_call(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    tube.latency = 0.1
    texts = ["star wars", "Star Wars", " STAR  WARS "]
    outcomes = await asyncio.gather(*(ask(live_hub.hub, text) for text in texts))
    assert tube.calls == 1 and {o.status for o in outcomes} == {"ok"}


async def test_failures_are_not_cached(live_hub: RunningHub, tube: FakeLiveSource) -> None:
    tube.mode = "error"
    assert (await ask(live_hub.hub)).status == "error"
    tube.mode = "ok"
    again = await ask(live_hub.hub)
    assert (again.status, again.cached, tube.calls) == ("ok", False, 2)


# timeouts --------------------------------------------------------------------------------------


async def test_a_hanging_source_times_out_on_its_own_while_a_fast_one_answers(
    medianest_hub: HubHarness, tube: FakeLiveSource, pod: FakeLiveSource, mode: dict
) -> None:
    search = {
        **LIVE_SEARCH_SETTINGS,
        "timeout_seconds": 2,
        "sources": {TUBE: {"timeout_seconds": 0.2}},
    }
    plugins = {"fakelive": FakeLivePlugin(tube), "otherlive": FakeLivePlugin(pod)}
    async with medianest_hub.run(plugins, search=search, **mode) as running:
        tube.mode = "hang"
        started = time.perf_counter()
        hung, fast = await running.hub.live.search(SearchRequest(text="heat"), [TUBE, POD])
        elapsed = time.perf_counter() - started
        assert 0.2 <= elapsed < 0.45
        assert (hung.status, hung.detail, hung.items) == ("timeout", "no answer within 0.2 s", [])
        assert 0.2 * 1000 <= (hung.latency_ms or 0) < 450
        assert (fast.status, [i.title for i in fast.items]) == ("ok", ["Heat Wave"])
        assert counted(running.hub, TUBE, "timeout") == 1
        assert upstream(running.hub, TUBE, "timeout") == 1
        await asyncio.sleep(0.01)
        assert tube.cancelled == tube.calls == 1


async def test_hanging_searches_do_not_pile_up(
    medianest_hub: HubHarness, tube: FakeLiveSource, mode: dict
) -> None:
    search = {"timeout_seconds": 0.3, "breaker_failures": 100}
    async with medianest_hub.run(
        {"fakelive": FakeLivePlugin(tube)}, search=search, **mode
    ) as running:
        tube.mode = "hang"
        waves = []
        for wave in range(3):
            started = time.perf_counter()
            outcomes = await asyncio.gather(
                *(ask(running.hub, f"star {wave} {n % 2}") for n in range(10))
            )
            waves.append(time.perf_counter() - started)
            assert {o.status for o in outcomes} == {"timeout"}
        await asyncio.sleep(0.01)
        assert tube.calls == 6 and tube.cancelled == 6  # two keys a wave, each given up on
        assert all(0.3 <= w < 0.55 for w in waves), waves


async def test_a_late_caller_joining_a_hanging_call_waits_only_for_what_is_left(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    tube.mode = "hang"
    first = asyncio.ensure_future(ask(live_hub.hub))
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    late = await ask(live_hub.hub)
    assert time.perf_counter() - started < 0.2
    assert late.status == "timeout" and (await first).status == "timeout"
    assert tube.calls == 1


# plugin output and errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode_", "detail"),
    [
        ("error", "Fake Tube answered 503"),
        ("crash", "plugin fakelive failed: RuntimeError"),
        (
            "bad",
            "plugin fakelive returned dict at position 0 from search of fakelive:tube; "
            "expected MediaItem",
        ),
        (
            "foreign",
            "plugin fakelive returned an item of source 'fakelive:elsewhere' from search of "
            "fakelive:tube; items must carry the id of the source that found them",
        ),
    ],
)
async def test_failures_are_errors_saying_what_went_wrong(
    live_hub: RunningHub,
    tube: FakeLiveSource,
    mode_: str,
    detail: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_module, "log", structlog.get_logger(live_module.__name__))
    tube.mode = mode_  # type: ignore[assignment]
    with capture_logs() as logs:
        outcome = await ask(live_hub.hub)
    assert (outcome.status, outcome.detail, outcome.items) == ("error", detail, [])
    assert "Traceback" not in detail and "fell over" not in detail
    assert counted(live_hub.hub, TUBE, "error") == 1
    assert upstream(live_hub.hub, TUBE, "error") == 1
    assert any(entry.get("source") == TUBE for entry in logs)
    if mode_ == "crash":
        [crash] = [entry for entry in logs if entry["event"] == "live source search crashed"]
        assert crash["plugin"] == "fakelive" and crash["log_level"] == "error"


async def test_a_list_of_something_else_is_an_error(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    async def answer_dict(query: Any) -> Any:
        return {"items": []}

    tube.search = answer_dict  # type: ignore[method-assign]
    outcome = await ask(live_hub.hub)
    assert outcome.detail == (
        "plugin fakelive returned dict from search of fakelive:tube; expected a list of MediaItem"
    )


async def test_sdk_errors_keep_their_safe_message(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    tube.mode = "error"
    tube.error = RateLimitedError("the daily quota is spent", retry_after=60, plugin="fakelive")
    outcome = await ask(live_hub.hub)
    assert (outcome.status, outcome.detail) == ("error", "the daily quota is spent")


# circuit breaker -------------------------------------------------------------------------------


async def test_the_circuit_opens_after_failures_in_a_row_and_skips_the_source(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    hub = live_hub.hub
    clock = with_clock(live_hub)
    tube.mode = "error"
    assert [(await ask(hub)).status for _ in range(3)] == ["error"] * 3
    skipped = await ask(hub)
    assert skipped.status == "skipped" and tube.calls == 3
    assert skipped.detail == (
        "search circuit open after 3 failures (last: Fake Tube answered 503); next try in 30 s"
    )
    assert skipped.latency_ms is None
    assert counted(hub, TUBE, "skipped") == 1
    assert circuit_gauge(hub, TUBE) == 1
    assert (await ask(hub, "heat", POD)).status == "ok"  # the other source is not affected

    clock.advance(29)
    assert (await ask(hub)).status == "skipped"
    clock.advance(1)
    assert hub.live.circuit(TUBE).state is CircuitState.HALF_OPEN  # type: ignore[union-attr]
    failed_trial = await ask(hub)
    assert (failed_trial.status, tube.calls) == ("error", 4)
    reopened = await ask(hub)
    assert reopened.status == "skipped" and "open after 4 failures" in (reopened.detail or "")
    assert circuit_gauge(hub, TUBE) == 1

    clock.advance(30)
    tube.mode = "ok"
    trial = await ask(hub)
    assert (trial.status, tube.calls) == ("ok", 5)
    view = hub.live.circuit(TUBE)
    assert view is not None and view.state is CircuitState.CLOSED and view.failures == 0
    assert view.last_error is None and view.opened_at is None
    assert circuit_gauge(hub, TUBE) == 0
    assert (await ask(hub, "heat")).status == "ok"


async def test_a_success_resets_the_count_of_failures(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    hub = live_hub.hub
    for text in ("a", "b"):
        tube.mode = "error"
        await ask(hub, text)
        await ask(hub, text)
        tube.mode = "ok"
        assert (await ask(hub, text)).status == "ok"
    assert hub.live.circuit(TUBE).state is CircuitState.CLOSED  # type: ignore[union-attr]


async def test_timeouts_open_the_circuit_too_and_it_closes_after_the_reset(
    medianest_hub: HubHarness, tube: FakeLiveSource, mode: dict
) -> None:
    search = {"timeout_seconds": 0.1, "breaker_failures": 2, "breaker_reset_seconds": 0.3}
    async with medianest_hub.run(
        {"fakelive": FakeLivePlugin(tube)}, search=search, **mode
    ) as running:
        hub = running.hub
        tube.mode = "hang"
        assert [(await ask(hub, t)).status for t in ("a", "b")] == ["timeout", "timeout"]
        skipped = await ask(hub, "c")
        assert skipped.status == "skipped"
        assert "after 2 failures (last: timeout after 0.1 s)" in (skipped.detail or "")
        await asyncio.sleep(0.3)
        tube.mode = "ok"
        assert (await ask(hub, "star")).status == "ok"
        assert hub.live.circuit(TUBE).state is CircuitState.CLOSED  # type: ignore[union-attr]
        assert circuit_gauge(hub, TUBE) == 0


async def test_a_half_open_circuit_lets_one_trial_through_at_a_time(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    hub = live_hub.hub
    clock = with_clock(live_hub)
    tube.mode = "error"
    for _ in range(3):
        await ask(hub)
    clock.advance(30)
    tube.mode = "ok"
    tube.latency = 0.1
    star, same_key, heat = await asyncio.gather(
        ask(hub, "star"), ask(hub, "Star"), ask(hub, "heat")
    )
    assert star.status == same_key.status  # the same search joins the trial
    trial, other = (star, heat) if star.status == "ok" else (heat, star)
    assert (trial.status, other.status) == ("ok", "skipped")
    assert "a trial search is under way" in (other.detail or "")
    assert tube.calls == 4
    assert (await ask(hub, "star")).status == (await ask(hub, "heat")).status == "ok"


async def test_a_cached_answer_neither_counts_nor_calls(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    hub = live_hub.hub
    await ask(hub, "star")
    tube.mode = "error"
    for _ in range(5):
        assert (await ask(hub, "star")).cached
    assert hub.live.circuit(TUBE).failures == 0  # type: ignore[union-attr]


def test_breaker_states_with_a_moving_clock() -> None:
    clock = FakeClock()
    changes: list[bool] = []
    breaker = CircuitBreaker(
        "x:y", failures=2, reset_seconds=10, clock=clock, on_change=changes.append
    )
    first = breaker.acquire()
    assert first is not None and not first.trial
    first.failed("boom")
    first.failed("counted once")
    assert breaker.state is CircuitState.CLOSED and breaker.view().failures == 1
    late = breaker.acquire()  # started while closed, ends after the circuit opened
    opening = breaker.acquire()
    assert late is not None and opening is not None
    opening.failed("boom")
    assert breaker.state is CircuitState.OPEN and changes == [True]
    assert breaker.acquire() is None
    clock.advance(4)
    late.failed("late")  # counted, but does not restart the wait
    view = breaker.view()
    assert (view.failures, view.last_error, round(view.retry_in or 0)) == (3, "late", 6)
    assert view.retry_at is not None and view.opened_at is not None
    assert (view.retry_at - view.opened_at).total_seconds() == pytest.approx(10)
    clock.advance(6)
    assert breaker.state is CircuitState.HALF_OPEN
    trial = breaker.acquire()
    assert trial is not None and trial.trial and breaker.acquire() is None
    trial.released()  # cancelled: the next caller gets the trial
    again = breaker.acquire()
    assert again is not None and again.trial
    again.failed("still down")
    assert breaker.state is CircuitState.OPEN and changes == [True]
    clock.advance(10)
    last = breaker.acquire()
    assert last is not None
    last.succeeded()
    assert breaker.state is CircuitState.CLOSED and changes == [True, False]
    assert breaker.view().describe() == "search circuit closed"


# runtime flags ---------------------------------------------------------------------------------


async def test_each_live_plugin_gets_a_search_flag(live_hub: RunningHub) -> None:
    flags = {state.key: state for state in live_hub.hub.flag_service.list()}
    assert flags["fakelive.search"].description == "Search Fake Tube live"
    assert flags["otherlive.search"].enabled is True


async def test_a_source_switched_off_is_skipped(live_hub: RunningHub, tube: FakeLiveSource) -> None:
    hub = live_hub.hub
    await hub.flag_service.set("fakelive.search", False, by="test")
    off, other = await hub.live.search(SearchRequest(text="heat"), [TUBE, POD])
    assert (off.status, off.detail) == ("skipped", "switched off (runtime flag fakelive.search)")
    assert other.status == "ok" and tube.calls == 0
    assert counted(hub, TUBE, "skipped") == 1
    await hub.flag_service.set("fakelive.search", True, by="test")
    assert (await ask(hub, "heat")).status == "ok"


class OwnFlagPlugin(FakeLivePlugin):
    """A live plugin declaring its own ``.search`` flag (off by default)."""

    @hookimpl
    def register_flags(self) -> list[Flag]:
        return [Flag(key="ownflag.search", description="Ask the own source", default=False)]


async def test_a_plugin_declaring_its_own_search_flag_keeps_it(medianest_hub: HubHarness) -> None:
    source = FakeLiveSource("ownflag:main", ["Star Wars"])
    async with medianest_hub.run({"ownflag": OwnFlagPlugin(source)}) as running:
        [flag] = [f for f in running.hub.flag_definitions if f.key == "ownflag.search"]
        assert flag.description == "Ask the own source"
        assert (await ask(running.hub, "star", "ownflag:main")).status == "skipped"


# per-source settings ---------------------------------------------------------------------------


async def test_per_source_ttl_and_timeout(
    medianest_hub: HubHarness, tube: FakeLiveSource, pod: FakeLiveSource, mode: dict
) -> None:
    search = {
        "timeout_seconds": 2,
        "cache_ttl_seconds": 300,
        "sources": {
            TUBE: {"cache_ttl_seconds": 0},
            POD: {"cache_ttl_seconds": 0.3, "timeout_seconds": 0.1},
        },
    }
    plugins = {"fakelive": FakeLivePlugin(tube), "otherlive": FakeLivePlugin(pod)}
    async with medianest_hub.run(plugins, search=search, **mode) as running:
        hub = running.hub
        for _ in range(3):
            assert (await ask(hub, "star")).cached is False
        assert tube.calls == 3
        assert (await ask(hub, "heat", POD)).cached is False
        assert (await ask(hub, "heat", POD)).cached is True
        await asyncio.sleep(0.35)
        assert (await ask(hub, "heat", POD)).cached is False and pod.calls == 2
        pod.latency = 0.3
        started = time.perf_counter()
        slow = await ask(hub, "wave", POD)
        assert slow.status == "timeout" and slow.detail == "no answer within 0.1 s"
        assert time.perf_counter() - started < 0.3


# visibility ------------------------------------------------------------------------------------


async def test_health_and_plugins_show_an_open_circuit(
    live_hub: RunningHub, tube: FakeLiveSource
) -> None:
    hub = live_hub.hub
    tube.mode = "error"
    for _ in range(3):
        await ask(hub)
    response = await live_hub.client.get("/health/ready")
    body = await response.get_json()
    assert response.status_code == 503
    by_name = {c["name"]: c for c in body["components"]}
    assert by_name[TUBE]["ok"] is False and by_name[TUBE]["circuit"] == "open"
    assert re.fullmatch(
        r"search circuit open after 3 failures \(last: Fake Tube answered 503\); "
        r"next try in (29|30) s",
        by_name[TUBE]["detail"],
    )
    assert by_name[POD] | {"latency_ms": None} == {
        "name": POD,
        "ok": True,
        "detail": "2 items",
        "latency_ms": None,
        "circuit": "closed",
        "required": True,
    }
    assert by_name["database"]["circuit"] is None

    admin = await live_hub.sign_in(role="admin")
    plugins = await (await live_hub.client.get("/api/v1/plugins", headers=admin)).get_json()
    by_key = {p["key"]: p for p in plugins["items"]}
    [source] = by_key["fakelive"]["sources"]
    circuit = source.pop("circuit")
    assert source == {
        "id": TUBE,
        "name": "Fake Tube",
        "capabilities": ["health", "live_search"],
    }
    assert circuit["state"] == "open" and circuit["failures"] == 3
    assert circuit["last_error"] == "Fake Tube answered 503"
    assert circuit["opened_at"] < circuit["retry_at"]
    [other] = by_key["otherlive"]["sources"]
    assert other["circuit"] == {
        "state": "closed",
        "failures": 0,
        "opened_at": None,
        "retry_at": None,
        "last_error": None,
    }


async def test_library_sources_are_listed_without_a_circuit(
    medianest_hub: HubHarness, tube: FakeLiveSource
) -> None:
    plugins = {"fake": FakePlugin(FakeLibrary("fake", 3)), "fakelive": FakeLivePlugin(tube)}
    async with medianest_hub.run(plugins) as running:
        admin = await running.sign_in(role="admin")
        body = await (await running.client.get("/api/v1/plugins", headers=admin)).get_json()
        by_key = {p["key"]: p for p in body["items"]}
        assert by_key["fake"]["sources"] == [
            {
                "id": "fake",
                "name": "Fake library",
                "capabilities": ["changes", "health", "library"],
                "circuit": None,
            }
        ]
        ready = await (await running.client.get("/health/ready")).get_json()
        circuits = {c["name"]: c["circuit"] for c in ready["components"]}
        assert circuits == {"database": None, "fake": None, TUBE: "closed"}
