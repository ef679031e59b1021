"""The drill's per-phase figures: counts, errors by status, longest gap, outage window."""

from __future__ import annotations

from tests.drill.load import Outcome, Recorder
from tests.drill.report import Phase, summarise, targets


def recorder(*outcomes: tuple[float, str]) -> Recorder:
    rec = Recorder()
    rec.outcomes = [Outcome(at, "search", status, status < "400") for at, status in outcomes]
    return rec


def test_the_longest_gap_counts_from_the_phase_edges_and_skips_failures() -> None:
    rec = recorder((1.0, "200"), (2.0, "503"), (4.5, "200"), (5.0, "200"), (20.0, "200"))
    summary = summarise(Phase("p", started=0.5, ended=6.0), rec)

    assert summary["requests"] == 4  # the answer at 20.0 belongs to a later phase
    assert summary["errors_by_status"] == {"503": 1}
    assert summary["longest_gap_seconds"] == 3.5  # 1.0 -> 4.5: the 503 fills no gap
    assert [c.ok for c in targets("rolling_restart", summary)] == [False]


def test_errors_after_the_outage_and_its_grace_are_counted_as_outside() -> None:
    rec = recorder((10.5, "503"), (12.0, "ConnectError"), (16.9, "503"), (17.5, "503"))
    phase = Phase("redis_restart", started=9.0, ended=20.0, window=(10.0, 12.0))
    summary = summarise(phase, rec)

    assert summary["errors"] == 4
    assert summary["errors_outside_outage"] == 1  # 17.5 > 12.0 + 5 s
    assert summary["facts"]["last_error_after_outage_seconds"] == 5.5
    assert [c.ok for c in targets("redis_restart", summary)] == [False]

    quiet = summarise(Phase("redis_restart", 9.0, 20.0, window=(10.0, 12.0)), recorder((11, "503")))
    assert [c.ok for c in targets("redis_restart", quiet)] == [True]
