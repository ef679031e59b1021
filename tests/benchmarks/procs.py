"""Child processes of the benchmarks: start, watch their output, measure their CPU, stop.

Every process started through :func:`running` is stopped when the block exits, whatever
the reason (an error, a cancellation, Ctrl-C): SIGTERM first, SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.benchmarks.results import REPO_ROOT, BenchmarkError

PYTHON = sys.executable
STOP_GRACE_SECONDS = 10.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def clean_environment(**extra: str) -> dict[str, str]:
    """The current environment without any ``MEDIANEST_*`` setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def module_command(module: str, *args: str) -> list[str]:
    """``python -m module args`` with this interpreter."""
    return [PYTHON, "-m", module, *args]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` (``None`` off Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it are space-separated.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Child:
    """A running child process whose stderr goes to ``log_path``."""

    process: asyncio.subprocess.Process
    log_path: Path
    name: str
    started: float = field(default_factory=time.perf_counter)
    _drain: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def failure(self, message: str) -> BenchmarkError:
        """An error naming the child, with the end of its log."""
        tail = _tail(self.log_path)
        return BenchmarkError(f"{self.name}: {message}" + (f"\n{tail}" if tail else ""))

    async def line_matching(self, pattern: re.Pattern[str], time_limit: float) -> re.Match[str]:
        """Read stdout until a line matches ``pattern`` (earlier lines are dropped).

        :raises BenchmarkError: the process ended, or printed no such line within ``time_limit`` s.
        """
        lines = await self.read_lines_until(pattern, time_limit)
        match = pattern.search(lines[-1])
        assert match is not None
        return match

    async def read_lines_until(self, pattern: re.Pattern[str], time_limit: float) -> list[str]:
        """Read stdout lines up to and including the first one matching ``pattern``.

        :raises BenchmarkError: the process ended, or printed no such line within ``time_limit`` s.
        """
        assert self.process.stdout is not None
        lines: list[str] = []
        deadline = time.perf_counter() + time_limit
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise self.failure(f"no line matching {pattern.pattern!r} within {time_limit:g} s")
            try:
                raw = await asyncio.wait_for(self.process.stdout.readline(), left)
            except TimeoutError:
                continue
            if not raw:
                await self.process.wait()
                raise self.failure(f"exited with status {self.process.returncode} while starting")
            lines.append(raw.decode(errors="replace").rstrip("\n"))
            if pattern.search(lines[-1]):
                return lines

    def drain_stdout(self) -> None:
        """Keep reading (and dropping) stdout in the background so the child never blocks."""
        stdout = self.process.stdout
        if stdout is None or self._drain is not None:
            return

        async def drain() -> None:
            while await stdout.read(65536):
                pass

        self._drain = asyncio.create_task(drain(), name=f"drain-{self.name}")

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> int:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit status."""
        process = self.process
        try:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), grace)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        finally:
            if self._drain is not None:
                self._drain.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._drain
        return process.returncode if process.returncode is not None else -1


@contextlib.asynccontextmanager
async def running(
    argv: list[str],
    *,
    name: str,
    log_path: Path,
    cwd: Path = REPO_ROOT,
    env: Mapping[str, str] | None = None,
    stdin: int | None = asyncio.subprocess.DEVNULL,
) -> AsyncIterator[Child]:
    """Start ``argv`` (stdout piped, stderr to ``log_path``) and stop it when the block exits."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env) if env is not None else clean_environment(),
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
    child = Child(process=process, log_path=log_path, name=name, started=started)
    try:
        yield child
    finally:
        await child.stop()


async def run_json_child(
    module: str,
    request: Mapping[str, Any],
    *,
    name: str,
    log_path: Path,
    time_limit: float,
) -> dict[str, Any]:
    """Run ``python -m module``, send ``request`` as JSON on stdin, return its JSON answer.

    The child prints exactly one JSON object on stdout and exits 0.

    :raises BenchmarkError: the child failed, timed out or printed no JSON.
    """
    async with running(
        module_command(module),
        name=name,
        log_path=log_path,
        stdin=asyncio.subprocess.PIPE,
    ) as child:
        try:
            out, _ = await asyncio.wait_for(
                child.process.communicate(json.dumps(request).encode()), time_limit
            )
        except TimeoutError:
            raise child.failure(f"did not finish within {time_limit:g} s") from None
        if child.process.returncode != 0:
            raise child.failure(f"exited with status {child.process.returncode}")
        try:
            answer = json.loads(out)
        except ValueError:
            raise child.failure(f"printed no JSON: {out[:200]!r}") from None
        if not isinstance(answer, dict):
            raise child.failure("printed JSON that is not an object")
        return answer
