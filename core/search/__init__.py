"""Unified search: the catalogue plus a parallel fan-out to live sources, merged and ranked."""

from medianest.core.search.query import DEFAULT_KINDS, SearchRequest
from medianest.core.search.service import SearchResult, SearchService

__all__ = ["DEFAULT_KINDS", "SearchRequest", "SearchResult", "SearchService"]
