"""What a benchmark produces (figures, parameters, notes) and how it is written to JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "bench-results"


class BenchmarkError(Exception):
    """A benchmark could not produce its figures; the message says why."""


@dataclass(frozen=True)
class Figure:
    """One measured quantity.

    :param key: stable dotted name used in the JSON files (``fresh.ready_s.median``).
    :param label: what a person reads in the table.
    :param value: the measurement, in ``unit``.
    :param unit: ``s``, ``ms``, ``req/s``, ``MiB``, ``%``, ...
    :param target: a value to compare against, shown beside the figure (never asserted).
    """

    key: str
    label: str
    value: float
    unit: str
    target: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The figure as a JSON object (without its key)."""
        data: dict[str, Any] = {"label": self.label, "value": self.value, "unit": self.unit}
        if self.target is not None:
            data["target"] = self.target
        return data


@dataclass
class Result:
    """Everything one benchmark measured."""

    name: str
    title: str
    params: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(
        self, key: str, label: str, value: float, unit: str, *, target: str | None = None
    ) -> None:
        """Record a figure."""
        self.figures.append(Figure(key, label, value, unit, target))

    def as_json(self, machine: dict[str, Any]) -> dict[str, Any]:
        """The result as a JSON object, with the machine it ran on."""
        return {
            "benchmark": self.name,
            "title": self.title,
            "machine": machine,
            "params": self.params,
            "figures": {f.key: f.as_json() for f in self.figures},
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def machine_info() -> dict[str, Any]:
    """CPU count, Python, platform, git commit (and whether the tree is dirty), UTC time."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity) if affinity is not None else os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "timestamp_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_results(
    out_dir: Path,
    results: list[Result],
    failures: dict[str, str],
    machine: dict[str, Any],
    *,
    quick: bool,
) -> list[Path]:
    """Write ``<name>.json`` for each result and ``summary.json`` for the run; returns paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for result in results:
        path = out_dir / f"{result.name}.json"
        data = {**result.as_json(machine), "quick": quick}
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    summary = {
        "machine": machine,
        "quick": quick,
        "benchmarks": {
            r.name: {
                "title": r.title,
                "seconds": round(r.seconds, 3),
                "figures": {f.key: f.as_json() for f in r.figures},
                "notes": r.notes,
            }
            for r in results
        },
        "failures": failures,
    }
    path = out_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    written.append(path)
    return written
