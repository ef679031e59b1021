"""Demo environments plugins contribute to ``medianest demo``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class DemoSetup:
    """What a running demo environment tells the hub.

    :param settings: the plugin's settings section, wired to the simulated service.
    :param instructions: lines printed to the person running the demo (how to sign in...).
    """

    settings: dict[str, Any]
    instructions: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Demo:
    """A plugin's demo: ``start(data_dir)`` runs its simulator for as long as the context lasts.

    :param start: an async context manager factory yielding a :class:`DemoSetup`.
    """

    start: Callable[[Path], AbstractAsyncContextManager[DemoSetup]]
