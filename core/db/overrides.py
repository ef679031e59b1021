"""Admin overrides laid over synced items.

An override row (:class:`~medianest.core.db.models.MediaOverride`) holds the fields an admin
corrected; ``NULL`` keeps the source's value. The title, year and external ids are also
written into the catalogue row (by the PATCH and again by every sync that rewrites the row),
so search, filters and cross-source matching see them; the summary and poster exist only in
the override and are laid over the item when it is read (:func:`apply_override`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medianest.sdk.models import ExternalIds, Image, MediaItem

OVERRIDE_FIELDS = ("title", "year", "summary", "imdb", "tmdb", "tvdb", "poster_url")
"""What an override may set, as columns of ``core_media_override``."""

ROW_FIELDS = ("title", "year", "imdb", "tmdb", "tvdb")
"""Overridden fields that are also catalogue columns (searched, filtered, matched on)."""


def apply_override(item: MediaItem, override: Mapping[str, Any] | None) -> MediaItem:
    """``item`` with the non-null fields of ``override`` (a row as a mapping) laid over it."""
    if not override:
        return item
    update: dict[str, Any] = {}
    if override.get("title") is not None:
        update["title"] = override["title"]
    if override.get("year") is not None:
        update["year"] = override["year"]
    if override.get("summary") is not None:
        update["summary"] = override["summary"]
    ids = {k: override[k] for k in ("imdb", "tmdb", "tvdb") if override.get(k) is not None}
    if ids:
        update["ids"] = ExternalIds(**{**item.ids.model_dump(), **ids})
    if override.get("poster_url") is not None:
        others = tuple(image for image in item.images if image.kind != "poster")
        update["images"] = (Image(kind="poster", url=override["poster_url"]), *others)
    return item.model_copy(update=update) if update else item
