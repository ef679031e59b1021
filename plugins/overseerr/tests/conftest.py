"""Fixtures for the Overseerr plugin tests."""

from __future__ import annotations

import pytest
from fake_overseerr import FakeOverseerr


@pytest.fixture
def fake() -> FakeOverseerr:
    """A scripted Overseerr with three users (owner 1, Ann 2 with Plex id 9001, Bob 3)."""
    return FakeOverseerr()
