"""Printing results as readable tables."""

from __future__ import annotations

from rich.table import Table

from tests.benchmarks.results import Result


def format_value(value: float) -> str:
    """A figure with as many decimals as its size deserves."""
    if isinstance(value, int):
        return f"{value:,}"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def result_table(result: Result) -> Table:
    """One benchmark's figures as a table; its notes as the caption."""
    table = Table(
        title=f"[bold]{result.name}[/]: {result.title} ({result.seconds:.1f} s)",
        title_justify="left",
        caption="\n".join(f"• {note}" for note in result.notes) or None,
        caption_justify="left",
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("target")
    for figure in result.figures:
        table.add_row(figure.label, format_value(figure.value), figure.unit, figure.target or "")
    return table
