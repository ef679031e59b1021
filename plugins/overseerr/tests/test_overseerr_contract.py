"""The SDK's request-backend and media-source contracts, run against the simulator."""

from __future__ import annotations

import pytest
from overseerr_testkit import person

from medianest.sdk import ExternalIds, MediaKind, MediaRequestCreate, Principal
from medianest.sdk.testing.contract import MediaSourceContract
from medianest.sdk.testing.request_contract import RequestBackendContract
from medianest_overseerr.backend import OverseerrRequestBackend
from medianest_overseerr.simulator import OverseerrWorld
from medianest_overseerr.source import OverseerrMediaSource


class TestOverseerrRequestBackendContract(RequestBackendContract):
    """Every behaviour core relies on, shown by ``overseerr:home`` over real HTTP."""

    @pytest.fixture
    def request_backend(self, backend: OverseerrRequestBackend) -> OverseerrRequestBackend:
        return backend

    @pytest.fixture
    def requester(self, overseerr_world: OverseerrWorld) -> Principal:
        return person(overseerr_world, "friend1", 101)

    @pytest.fixture
    def other_requester(self) -> Principal:
        return Principal(
            user_id=102,
            username="trusted",
            email="trusted.viewer@example.com",
            permissions=frozenset({"request"}),
        )

    @pytest.fixture
    def requestable(self, overseerr_world: OverseerrWorld) -> list[MediaRequestCreate]:
        movies = [
            t for t in overseerr_world.catalogue.requestable_only() if t.media_type == "movie"
        ]
        return [
            MediaRequestCreate(kind=MediaKind.MOVIE, ids=ExternalIds(tmdb=t.tmdb), title=t.title)
            for t in movies[:2]
        ]


class TestOverseerrMediaSourceContract(MediaSourceContract):
    """The live-search source ``overseerr:home`` over real HTTP."""

    @pytest.fixture
    def media_source(self, source: OverseerrMediaSource) -> OverseerrMediaSource:
        return source
