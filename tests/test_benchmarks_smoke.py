"""The benchmark runner works end to end: one quick benchmark writes its figures as JSON.

Timings are never asserted; only that the run succeeds and every figure is a positive number.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import service_missing

# Every test here starts processes of its own (`-m "not slow"` leaves them out).
pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_quick(benchmark: str, out: Path) -> None:
    """Run one benchmark with ``--quick`` in a subprocess, writing its JSON into ``out``."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks", benchmark, "--quick", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_quick_health_benchmark_writes_positive_figures(tmp_path: Path) -> None:
    run_quick("health_live_rate", tmp_path)

    result = json.loads((tmp_path / "health_live_rate.json").read_text())
    figures = result["figures"]
    assert "raw.requests_per_second" in figures
    assert "raw.latency_p99_ms" in figures
    for key, figure in figures.items():
        assert isinstance(figure["value"], int | float), key
        assert figure["value"] > 0, key
    assert result["machine"]["cpu_count"] >= 1
    assert result["machine"]["python"].startswith("3.")
    assert result["quick"] is True

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["benchmarks"]) == {"health_live_rate"}
    assert summary["failures"] == {}


def test_quick_token_benchmark_writes_positive_figures(tmp_path: Path) -> None:
    run_quick("token_verify", tmp_path)

    figures = json.loads((tmp_path / "token_verify.json").read_text())["figures"]
    for key in (
        "jwt_verify_us",
        "memory_revocation_check_us",
        "authenticate_sqlite_us",
        "authenticate_read_user_sqlite_us",
        "http.live.requests_per_second",
        "http.me.requests_per_second",
    ):
        assert figures[key]["value"] > 0, key


def test_quick_library_sync_benchmark_counts_what_each_sync_changed(tmp_path: Path) -> None:
    run_quick("library_sync", tmp_path)

    result = json.loads((tmp_path / "library_sync.json").read_text())
    figures = {key: figure["value"] for key, figure in result["figures"].items()}
    unreachable = [n for n in result["notes"] if n.startswith("PostgreSQL is not reachable")]
    databases = ["sqlite"] if unreachable else ["postgres", "sqlite"]
    changes = result["params"]["incremental_changes"]
    for database in databases:
        assert figures[f"{database}.full.seconds"] > 0
        assert figures[f"{database}.full.items"] == figures[f"{database}.full.inserted"] > 0
        assert figures[f"{database}.full.worker_peak_rss_mib"] > 0
        assert figures[f"{database}.resync.rows_written"] == 0
        assert figures[f"{database}.incremental.inserted"] == changes["added"]
        assert figures[f"{database}.incremental.updated"] == changes["retitled"]
        assert figures[f"{database}.deletions.deleted"] == result["params"]["deletions"]
        assert figures[f"{database}.deletions.rows_written"] == 0
    problems = [n for n in result["notes"] if n.startswith(("PostgreSQL:", "SQLite:"))]
    assert problems == []
    if unreachable:
        service_missing("PostgreSQL", unreachable[0])
    assert figures["bare.seconds"] > 0
    assert figures["postgres.full.bare_ratio"] > 0


def test_quick_catalogue_search_benchmark_times_searches_on_each_database(tmp_path: Path) -> None:
    run_quick("catalogue_search", tmp_path)

    result = json.loads((tmp_path / "catalogue_search.json").read_text())
    figures = {key: figure["value"] for key, figure in result["figures"].items()}
    unreachable = [n for n in result["notes"] if n.startswith("PostgreSQL is not reachable")]
    databases = ["sqlite"] if unreachable else ["postgres", "sqlite"]
    for database in databases:
        assert figures[f"{database}.seed_seconds"] > 0
        assert 0 < figures[f"{database}.p50_ms"] <= figures[f"{database}.p99_ms"]
        assert figures[f"{database}.p99_ms"] <= figures[f"{database}.max_ms"]
        assert figures[f"{database}.target_met"] in (0, 1)
        assert figures[f"{database}.mean_hits"] > 0
        for cls in ("full_title", "typeahead", "episode", "common_word"):
            assert figures[f"{database}.{cls}.p50_ms"] > 0, cls
    assert result["params"]["items"] == 10_000
    if unreachable:
        service_missing("PostgreSQL", unreachable[0])


def test_quick_search_http_benchmark_measures_every_load(tmp_path: Path) -> None:
    run_quick("search_http", tmp_path)

    result = json.loads((tmp_path / "search_http.json").read_text())
    figures = {key: figure["value"] for key, figure in result["figures"].items()}
    for load in ("health_live", "cached", "cached_paced", "fanout", "hanging"):
        assert figures[f"{load}.requests_per_second"] > 0, load
        assert 0 < figures[f"{load}.latency_p50_ms"] <= figures[f"{load}.latency_p99_ms"], load
    # Every uncached search waits for the 80 ms source; with the hanging one, for its timeout.
    assert figures["fanout.latency_p50_ms"] >= 80
    assert figures["hanging.latency_p50_ms"] >= 250
    assert figures["health_live_after.requests_per_second"] > 0
    assert figures["searches_served"] >= 500
    assert figures["rss_mib"] > 0


def test_quick_pages_benchmark_reads_server_times_of_every_page(tmp_path: Path) -> None:
    run_quick("pages_http", tmp_path)

    result = json.loads((tmp_path / "pages_http.json").read_text())
    figures = {key: figure["value"] for key, figure in result["figures"].items()}
    for page in ("search", "details", "home"):
        assert 0 < figures[f"{page}.server_p50_ms"] <= figures[f"{page}.server_p99_ms"], page
        assert figures[f"{page}.requests_per_second"] > 0, page
        assert figures[f"{page}_paced.server_p99_ms"] > 0, page
    assert 0 < figures["cold_search.median_server_ms"] <= figures["cold_search.max_server_ms"]
    assert result["params"]["items"] == 10_000


def test_quick_live_socket_benchmark_measures_delivery_and_memory(tmp_path: Path) -> None:
    run_quick("live_socket", tmp_path)

    figures = json.loads((tmp_path / "live_socket.json").read_text())["figures"]
    assert figures["broadcast.deliveries"]["value"] == 100 * 5  # every socket, every message
    for key in ("broadcast.p99_ms", "memory.rss_with_all_mib", "rate.rss_after_mib"):
        assert figures[key]["value"] > 0, key
    assert figures["rate.published"]["value"] > 0
    assert figures["rate.queued_after"]["value"] == 0
