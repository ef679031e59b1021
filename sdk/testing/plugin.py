"""The pytest plugin entry (``pytest11``): fixtures for testing MediaNest plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from medianest.sdk.testing.harness import HubHarness


@pytest.fixture
def medianest_hub(tmp_path: Path) -> HubHarness:
    """Start real hubs: ``async with medianest_hub.run({"myplugin": module}) as running:``."""
    return HubHarness(tmp_path)
