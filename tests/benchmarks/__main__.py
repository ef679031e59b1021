"""``python -m tests.benchmarks [names...] [--quick] [--out DIR]``: run, print, write JSON.

Runs every benchmark (or the named ones) in catalogue order, prints a table of figures per
benchmark and writes ``<name>.json`` plus ``summary.json`` into ``bench-results/`` (or
``--out``). A benchmark that fails is reported and the others still run; the exit status is
1 when any failed, 130 on Ctrl-C or SIGTERM (after stopping every process it started).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from tests.benchmarks.catalogue import BENCHMARKS, Benchmark
from tests.benchmarks.report import result_table
from tests.benchmarks.results import (
    DEFAULT_OUT_DIR,
    BenchmarkError,
    Result,
    machine_info,
    write_results,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; unknown benchmark names are refused."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks",
        description="MediaNest's benchmarks. Figures are printed and written as JSON.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes and shorter runs (about a minute)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT_DIR, help="where to write the JSON files"
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    return args


async def stoppable(benchmark: Benchmark, quick: bool) -> Result:
    """Run ``benchmark``; SIGTERM cancels it like Ctrl-C does, so its processes get stopped.

    :raises KeyboardInterrupt: on SIGTERM, once every ``finally`` has run.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, terminate)
    try:
        return await benchmark(quick)
    except asyncio.CancelledError:
        if terminated:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def run_one(name: str, quick: bool, console: Console) -> Result:
    """Run one benchmark on a fresh event loop and time it."""
    console.print(f"[bold]▶ {name}[/]{' (quick)' if quick else ''} …")
    started = time.perf_counter()
    result = asyncio.run(stoppable(BENCHMARKS[name], quick))
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks; returns the exit status."""
    args = parse_args(argv)
    console = Console(highlight=False)
    names = args.names or list(BENCHMARKS)
    machine = machine_info()
    results: list[Result] = []
    failures: dict[str, str] = {}
    started = time.perf_counter()
    try:
        for name in names:
            try:
                result = run_one(name, args.quick, console)
            except BenchmarkError as exc:
                failures[name] = str(exc)
                console.print(f"[bold red]✗ {name}:[/] {escape(str(exc))}", soft_wrap=True)
                continue
            except Exception as exc:
                failures[name] = f"{type(exc).__name__}: {exc}"
                console.print(escape(traceback.format_exc()), soft_wrap=True)
                continue
            results.append(result)
            console.print(result_table(result))
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]; every process started was stopped")
        return 130
    written = write_results(args.out, results, failures, machine, quick=args.quick)
    console.rule("summary")
    for name, message in failures.items():
        console.print(f"[bold red]{name} failed:[/] {escape(message)}", soft_wrap=True)
    console.print(
        f"{len(results)} benchmark(s) in {time.perf_counter() - started:.1f} s on "
        f"{machine['cpu_count']} CPUs, Python {machine['python']}, commit "
        f"{(machine['git_commit'] or 'unknown')[:12]}{' (dirty)' if machine['git_dirty'] else ''}"
    )
    console.print(f"results: {', '.join(str(p) for p in written)}", soft_wrap=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
