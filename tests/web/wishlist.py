"""A live source of titles no library holds, as a request backend's search shows them (films
and shows with TMDB ids; a show's seasons in ``extra["seasons"]``, as the Overseerr plugin
gives them), for the request pages' browser tests."""

from __future__ import annotations

from medianest.sdk import HealthStatus, MediaItem, SearchQuery, SourceCapability, hookimpl

SOURCE = "wishlist"
FILMS = 30
SHOWS = 5
FILM_TMDB = 50_000
SHOW_TMDB = 60_000


def wanted_film(number: int) -> MediaItem:
    """Film ``number`` of the wishlist."""
    return MediaItem.model_validate(
        {
            "kind": "movie",
            "title": f"Wanted Film {number}",
            "ref": {"source": SOURCE, "item_id": f"movie-{number}"},
            "year": 2000 + number,
            "ids": {"tmdb": FILM_TMDB + number},
        }
    )


def wanted_show(number: int) -> MediaItem:
    """Show ``number`` of the wishlist: specials and three seasons."""
    return MediaItem.model_validate(
        {
            "kind": "show",
            "title": f"Wanted Show {number}",
            "ref": {"source": SOURCE, "item_id": f"show-{number}"},
            "year": 2010 + number,
            "ids": {"tmdb": SHOW_TMDB + number, "tvdb": 70_000 + number},
            "extra": {
                "seasons": [
                    {"number": n, "name": "Specials" if n == 0 else f"Season {n}", "episodes": 8}
                    for n in range(4)
                ]
            },
        }
    )


class Wishlist:
    """Searched live; holds nothing in a library."""

    id = SOURCE
    name = "Wishlist"
    capabilities = frozenset({SourceCapability.LIVE_SEARCH, SourceCapability.HEALTH})

    def __init__(self) -> None:
        self.items = [wanted_film(n) for n in range(1, FILMS + 1)] + [
            wanted_show(n) for n in range(1, SHOWS + 1)
        ]

    async def search(self, query: SearchQuery) -> list[MediaItem]:
        text = query.text.lower()
        found = [i for i in self.items if text in i.title.lower()]
        if query.kinds:
            found = [i for i in found if i.kind in query.kinds]
        return found[: query.limit]

    async def get_item(self, item_id: str) -> MediaItem:
        from medianest.sdk.errors import NotFoundError

        for item in self.items:
            if item.ref.item_id == item_id:
                return item
        raise NotFoundError(f"no item {item_id!r}")

    async def health(self) -> HealthStatus:
        return HealthStatus(ok=True)


class WishlistPlugin:
    """Offers the wishlist."""

    @hookimpl
    def register_media_sources(self) -> list[Wishlist]:
        return [Wishlist()]
