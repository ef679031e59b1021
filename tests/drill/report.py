"""The drill's figures: what a phase measured, its checks, and how they are printed."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from tests.drill.load import Recorder

console = Console()
RECOVERY_TARGET_SECONDS = 5.0
"""After a Redis or PostgreSQL restart every replica and worker serves within this time."""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Phase:
    name: str
    started: float
    ended: float = 0.0
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    window: tuple[float, float] | None = None
    """The outage: errors inside it (and up to the recovery target after it) are expected."""

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))


def summarise(phase: Phase, recorder: Recorder) -> dict[str, Any]:
    """Requests, errors by status, longest gap and the checks of ``phase``."""
    inside = [o for o in recorder.outcomes if phase.started <= o.at <= phase.ended]
    errors = Counter(o.status for o in inside if not o.ok)
    successes = sorted(o.at for o in inside if o.ok)
    marks = [phase.started, *successes, phase.ended]
    gap = max((b - a for a, b in itertools.pairwise(marks)), default=0.0)
    by_scenario = Counter(o.scenario for o in inside)
    outside = 0
    if phase.window is not None:
        down, up = phase.window
        late = [o.at - up for o in inside if not o.ok and o.at > up]
        phase.facts["last_error_after_outage_seconds"] = round(max(late, default=0.0), 3)
        outside = sum(
            1 for o in inside if not o.ok and not down <= o.at <= up + RECOVERY_TARGET_SECONDS
        )
    return {
        "seconds": round(phase.ended - phase.started, 2),
        "requests": len(inside),
        "requests_by_scenario": dict(by_scenario),
        "errors": sum(errors.values()),
        "errors_by_status": dict(errors),
        "errors_outside_outage": outside,
        "longest_gap_seconds": round(gap, 3),
        "outage_seconds": (
            round(phase.window[1] - phase.window[0], 3) if phase.window is not None else None
        ),
        "facts": phase.facts,
        "checks": [c.as_json() for c in phase.checks],
        "passed": all(c.ok for c in phase.checks),
    }


def targets(name: str, summary: dict[str, Any]) -> list[Check]:
    """The phase's request targets (its own checks come on top)."""
    if name in (
        "baseline",
        "rolling_restart",
        "sigterm_restart",
        "worker_kill",
        "requests_notifications",
    ):
        return [
            Check(
                "0 failed requests",
                summary["errors"] == 0,
                f"{summary['errors']} of {summary['requests']} failed: "
                f"{summary['errors_by_status']}",
            )
        ]
    return [
        Check(
            "errors only inside the outage window",
            summary["errors_outside_outage"] == 0,
            f"{summary['errors']} errors, {summary['errors_outside_outage']} outside "
            f"the outage (+{RECOVERY_TARGET_SECONDS:g} s)",
        )
    ]


def print_phase(name: str, summary: dict[str, Any]) -> None:
    table = Table(title=f"{name} ({summary['seconds']} s)", show_header=True)
    table.add_column("figure / check")
    table.add_column("value")
    table.add_row("requests", str(summary["requests"]))
    table.add_row("errors by status", json.dumps(summary["errors_by_status"]) or "{}")
    table.add_row("longest gap", f"{summary['longest_gap_seconds']} s")
    if summary["outage_seconds"] is not None:
        table.add_row("outage", f"{summary['outage_seconds']} s")
    for key, value in summary["facts"].items():
        table.add_row(key, json.dumps(value))
    for check in summary["checks"]:
        mark = "[green]ok[/]" if check["ok"] else "[red]FAILED[/]"
        table.add_row(f"{mark} {check['name']}", check["detail"])
    console.print(table)
