"""The client of one Plex Media Server: containers, paged lists, counts, items and search.

PMS answers JSON only for ``Accept: application/json`` (sent by :class:`PlexClient`); lists
page with the ``X-Plex-Container-Start``/``-Size`` headers and report ``totalSize``/``offset`` in
the ``MediaContainer``; ``X-Plex-Container-Size: 0`` asks only for the size.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from medianest.sdk import NotFoundError
from medianest_plex.client import Params, PlexClient
from medianest_plex.const import (
    HEADER_CONTAINER_SIZE,
    HEADER_CONTAINER_START,
    HEADER_CONTAINER_TOTAL_SIZE,
    PLUGIN_KEY,
)

_SECTION_KEY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass(frozen=True, slots=True)
class Slice:
    """One page of a PMS list: the raw items, the collection's size and the page's offset."""

    items: list[dict[str, Any]]
    total: int | None
    offset: int


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def announced_total(response: httpx.Response) -> int | None:
    """The collection size in a page answer's ``X-Plex-Container-Total-Size`` header.

    It is known as soon as the answer arrives, before its body is parsed.
    """
    return _int_or_none(response.headers.get(HEADER_CONTAINER_TOTAL_SIZE))


def _paging_headers(start: int, size: int) -> dict[str, str]:
    return {HEADER_CONTAINER_START: str(start), HEADER_CONTAINER_SIZE: str(size)}


class PlexServerClient(PlexClient):
    """One Plex Media Server, read with the configured token."""

    async def container(
        self,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        time_limit: float | None = None,
    ) -> tuple[dict[str, Any], httpx.Response]:
        """GET ``path`` and return its ``MediaContainer`` object.

        :raises UpstreamDataError: the body has no ``MediaContainer`` object.
        """
        body, response = await self.request_json(
            "GET", path, params=params, headers=headers, time_limit=time_limit
        )
        return self._container_of(body, path), response

    def _container_of(self, body: Any, path: str) -> dict[str, Any]:
        container = body.get("MediaContainer") if isinstance(body, dict) else None
        if not isinstance(container, dict):
            raise self.data_error(f"answered GET {path} without a MediaContainer object")
        return container

    def entries(self, container: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
        """``container[key]`` as a list of objects (missing means empty).

        :raises UpstreamDataError: it is not a list of objects.
        """
        value = container.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.data_error(f"answered GET {path} with a {key} that is not a list of objects")
        return value

    async def identity(self, *, time_limit: float | None = None) -> dict[str, Any]:
        """``/identity``: ``machineIdentifier`` and ``version``."""
        container, _ = await self.container("/identity", time_limit=time_limit)
        machine = container.get("machineIdentifier")
        if not isinstance(machine, str) or not machine:
            raise self.data_error("answered GET /identity without a machineIdentifier")
        return container

    async def sections(self) -> list[dict[str, Any]]:
        """The library sections (``/library/sections``), each with ``key``, ``type``, ``title``."""
        path = "/library/sections"
        container, _ = await self.container(path)
        sections = self.entries(container, "Directory", path)
        for section in sections:
            key = section.get("key")
            if isinstance(key, int) and not isinstance(key, bool):
                section["key"] = key = str(key)
            if not isinstance(key, str) or not _SECTION_KEY.fullmatch(key):
                raise self.data_error(f"answered GET {path} with a section without a valid key")
        return sections

    async def page(
        self,
        path: str,
        *,
        start: int,
        size: int,
        params: Params | None = None,
    ) -> Slice:
        """One page of a list endpoint, paged by ``X-Plex-Container-Start``/``-Size``.

        ``size=0`` asks only for the collection's size. A server that ignores paging and
        returns everything is sliced here, so callers always get at most ``size`` items.
        """
        response = await self.fetch_page(path, start=start, size=size, params=params)
        return self.read_page(response, path, start=start, size=size)

    async def fetch_page(
        self,
        path: str,
        *,
        start: int,
        size: int,
        params: Params | None = None,
    ) -> httpx.Response:
        """The answer to the request :meth:`page` makes, to be read with :meth:`read_page`."""
        return await self.request("GET", path, params=params, headers=_paging_headers(start, size))

    def read_page(self, response: httpx.Response, path: str, *, start: int, size: int) -> Slice:
        """The :class:`Slice` in the answer to a page request for ``path``.

        :raises UpstreamDataError: the body is not a ``MediaContainer`` of objects.
        """
        container = self._container_of(self.json(response, f"GET {path}"), path)
        items = self.entries(container, "Metadata", path)
        section = container.get("librarySectionID")
        if section is not None:
            # The items are fresh from this body and ours alone, so they are completed in
            # place rather than copied.
            for item in items:
                if "librarySectionID" not in item:
                    item["librarySectionID"] = section
        total = _int_or_none(container.get("totalSize"))
        if total is None:
            total = announced_total(response)
        offset = _int_or_none(container.get("offset"))
        if offset is None and len(items) > size:
            total = len(items) if total is None else total
            items = items[start : start + size]
            offset = start
        return Slice(items=items[:size], total=total, offset=start if offset is None else offset)

    async def count(self, path: str, *, params: Params | None = None) -> int:
        """The size of a list endpoint's collection, asked with a page size of 0.

        :raises UpstreamDataError: the server did not report ``totalSize``.
        """
        result = await self.page(path, start=0, size=0, params=params)
        if result.total is None:
            raise self.data_error(f"answered GET {path} without a totalSize")
        return result.total

    async def metadata(self, rating_key: str) -> dict[str, Any]:
        """The item ``rating_key`` from ``/library/metadata/{rating_key}``.

        :raises NotFoundError: the server has no such item.
        """
        path = f"/library/metadata/{rating_key}"
        container, _ = await self.container(path, params=[("includeGuids", 1)])
        items = self.entries(container, "Metadata", path)
        if not items:
            raise NotFoundError(
                f"{self.label} has no item with ratingKey {rating_key}", plugin=PLUGIN_KEY
            )
        return items[0]

    async def search(self, query: str, limit: int) -> list[dict[str, Any]]:
        """Items of every hub ``/hubs/search`` returns for ``query``, in the server's order."""
        path = "/hubs/search"
        params: list[tuple[str, str | int]] = [
            ("query", query),
            ("limit", limit),
            ("includeGuids", 1),
        ]
        container, _ = await self.container(path, params=params)
        found: list[dict[str, Any]] = []
        for hub in self.entries(container, "Hub", path):
            found.extend(self.entries(hub, "Metadata", path))
        return found
