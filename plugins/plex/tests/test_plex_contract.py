"""The SDK's media-source contract, run against a Plex server of the simulator."""

from __future__ import annotations

import pytest

from medianest.sdk.testing.contract import MediaSourceContract
from medianest_plex.source import PlexMediaSource


class TestPlexMediaSourceContract(MediaSourceContract):
    """Every behaviour core relies on, shown by ``plex:home`` over real HTTP."""

    @pytest.fixture
    def media_source(self, home: PlexMediaSource) -> PlexMediaSource:
        return home
