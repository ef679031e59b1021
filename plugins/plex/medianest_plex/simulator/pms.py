"""The Plex Media Server routes of one simulated server.

Every route except ``/identity`` needs a token the server accepts (``X-Plex-Token`` header or
query parameter; 401 otherwise). Shared accounts see only their shared sections: items of
other sections answer 404, as if absent. ``/status/sessions`` and the history are for the
server admin (the owner) only. Lists page with ``X-Plex-Container-Start``/``-Size``
(headers or query) and answer ``X-Plex-Container-Start``/``-Total-Size`` headers plus
``size``/``totalSize``/``offset`` in the body. Bad parameters answer 400 naming the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from quart import Blueprint, Response, request

from medianest_plex.simulator.accounts import Share
from medianest_plex.simulator.activity import HistoryRecord
from medianest_plex.simulator.containers import (
    LIBRARY_ID,
    container,
    history_element,
    identity,
    library_root,
    section_listing,
    sections_container,
    server_root,
    session_element,
)
from medianest_plex.simulator.filtering import section_meta
from medianest_plex.simulator.items import Item, Kind
from medianest_plex.simulator.library import SORT_FIELDS
from medianest_plex.simulator.metadata import metadata_element
from medianest_plex.simulator.query import (
    BadRequest,
    FieldType,
    Page,
    SortSpec,
    parse_filters,
    parse_int,
    parse_page,
    parse_sort,
    window,
)
from medianest_plex.simulator.render import Element
from medianest_plex.simulator.servers import SimServer
from medianest_plex.simulator.web import container_response, plex_param, pms_error
from medianest_plex.simulator.world import PlexWorld

LIBRARY_FILTERS = {
    "addedAt": FieldType.DATE,
    "updatedAt": FieldType.DATE,
    "year": FieldType.INTEGER,
    "title": FieldType.STRING,
}
HISTORY_FILTERS = {
    "accountID": FieldType.INTEGER,
    "viewedAt": FieldType.DATE,
    "librarySectionID": FieldType.INTEGER,
    "deviceID": FieldType.INTEGER,
}
HISTORY_SORTS = frozenset({"viewedAt", "accountID"})
_HUB_TITLES = {
    Kind.MOVIE: "Movies",
    Kind.SHOW: "Shows",
    Kind.SEASON: "Seasons",
    Kind.EPISODE: "Episodes",
}


def _flag(name: str) -> bool:
    raw = request.args.get(name, "")
    if raw not in ("", "0", "1"):
        raise BadRequest(f"{name} must be 0 or 1")
    return raw == "1"


def _kind(number: int) -> Kind | None:
    try:
        return Kind(number)
    except ValueError:
        return None


def _history_key(name: str, record: HistoryRecord) -> int:
    return record.field(name) or 0


def _paged_headers(total: int, start: int) -> dict[str, str]:
    return {"X-Plex-Container-Start": str(start), "X-Plex-Container-Total-Size": str(total)}


def _window(items: Sequence[Item], page: Page) -> tuple[Sequence[Item], int, int]:
    total, start, stop = window(len(items), page)
    return items[start:stop], total, start


def build_pms_blueprint(world: PlexWorld, server: SimServer) -> Blueprint:
    """The PMS routes of ``server``."""
    bp = Blueprint("pms", __name__)

    def authorize() -> Share | Response:
        share = server.share_for_token(plex_param(request, "X-Plex-Token"))
        if share is None:
            return pms_error(401, "Unauthorized")
        return share

    def admin() -> Share | Response:
        share = authorize()
        if isinstance(share, Share) and share.account_key != "owner":
            return pms_error(401, "Unauthorized", "this endpoint needs the server admin's token")
        return share

    def visible_item(share: Share, rating_key: str) -> Item | None:
        if not rating_key.isdigit() or len(rating_key) > 18:
            raise BadRequest(f"ratingKey must be an integer, got {rating_key[:40]!r}")
        item = server.library.get(int(rating_key))
        if item is None or not share.can_see(item.section_key):
            return None
        return item

    @bp.get("/identity")
    async def get_identity() -> Response:
        """Server identity; needs no token, like PMS."""
        return container_response(request, identity(server))

    @bp.get("/")
    async def get_root() -> Response:
        """Server configuration."""
        share = authorize()
        if isinstance(share, Response):
            return share
        return container_response(request, server_root(server, world.owner))

    @bp.get("/library")
    async def get_library() -> Response:
        """The library root: its sections, recently added and on deck directories."""
        share = authorize()
        if isinstance(share, Response):
            return share
        return container_response(request, library_root())

    @bp.get("/library/sections")
    @bp.get("/library/sections/all")
    async def get_sections() -> Response:
        """The library sections visible to the token."""
        share = authorize()
        if isinstance(share, Response):
            return share
        return container_response(request, sections_container(server, share))

    @bp.get("/library/sections/<section_id>/all")
    async def get_section_items(section_id: str) -> Response:
        """A page of one section's items of the requested ``type``."""
        share = authorize()
        if isinstance(share, Response):
            return share
        key = parse_int(section_id, "section id")
        section = server.library.sections.get(key)
        if section is None or not share.can_see(key):
            return pms_error(404, "Not Found", f"no library section {key}")
        raw_type = request.args.get("type")
        kind_number = parse_int(raw_type, "type", minimum=1, default=int(section.type))
        page = parse_page(request.headers, request.args)
        include_guids = _flag("includeGuids")
        include_meta = _flag("includeMeta")
        kind = _kind(kind_number)
        default: SortSpec = (
            (("titleSort", False),) if kind in (Kind.MOVIE, Kind.SHOW) else (("natural", False),)
        )
        spec = parse_sort(request.args.get("sort"), SORT_FIELDS, default)
        filters = parse_filters(request.args, LIBRARY_FILTERS, world.now())
        if kind is None or kind not in section.kinds():
            items: Sequence[Item] = []
        else:
            items = server.library.query(section.key, kind, filters, spec)
        page_items, total, start = _window(items, page)
        root = section_listing(
            section,
            kind or section.type,
            page_items,
            total=total,
            offset=start,
            include_guids=include_guids,
        )
        if include_meta:
            root.children.append(section_meta(section))
        return container_response(request, root, headers=_paged_headers(total, start))

    @bp.get("/library/sections/<section_id>/collections")
    async def get_section_collections(section_id: str) -> Response:
        """The section's collections: the simulated libraries have none."""
        share = authorize()
        if isinstance(share, Response):
            return share
        key = parse_int(section_id, "section id")
        section = server.library.sections.get(key)
        if section is None or not share.can_see(key):
            return pms_error(404, "Not Found", f"no library section {key}")
        page = parse_page(request.headers, request.args)
        _, total, start = _window([], page)
        root = container(
            {
                "totalSize": total,
                "offset": start,
                "allowSync": False,
                "librarySectionID": section.key,
                "librarySectionTitle": section.title,
                "librarySectionUUID": section.uuid,
                "title1": section.title,
                "title2": "All Collections",
            }
        )
        return container_response(request, root, headers=_paged_headers(total, start))

    @bp.get("/library/metadata/<ids>")
    async def get_metadata(ids: str) -> Response:
        """Full metadata of one or more items (comma-separated ratingKeys)."""
        share = authorize()
        if isinstance(share, Response):
            return share
        keys = [k.strip() for k in ids.split(",") if k.strip()]
        if not keys or len(keys) > 1000:
            raise BadRequest("give between 1 and 1000 comma-separated ratingKeys")
        found = [i for i in (visible_item(share, k) for k in keys) if i is not None]
        if not found:
            return pms_error(404, "Not Found", "no such item")
        children = [
            metadata_element(i, section=server.library.sections.get(i.section_key), detail=True)
            for i in found
        ]
        root = container(
            {
                "allowSync": True,
                "identifier": LIBRARY_ID,
                "mediaTagPrefix": "/system/bundle/media/flags/",
                "mediaTagVersion": 1_717_000_000,
            },
            children,
        )
        return container_response(request, root)

    @bp.get("/library/metadata/<rating_key>/children")
    async def get_children(rating_key: str) -> Response:
        """Seasons of a show or episodes of a season (paged); empty for leaves."""
        return await _descendants(rating_key, leaves=False)

    @bp.get("/library/metadata/<rating_key>/allLeaves")
    async def get_all_leaves(rating_key: str) -> Response:
        """Every episode of a show (season by season) or of a season (paged)."""
        return await _descendants(rating_key, leaves=True)

    async def _descendants(rating_key: str, *, leaves: bool) -> Response:
        share = authorize()
        if isinstance(share, Response):
            return share
        item = visible_item(share, rating_key)
        if item is None:
            return pms_error(404, "Not Found", "no such item")
        page = parse_page(request.headers, request.args)
        include_guids = _flag("includeGuids")
        kids = list(item.children or [])
        if leaves and item.kind == Kind.SHOW:
            kids = [episode for season in kids for episode in season.children or []]
        page_items, total, start = _window(kids, page)
        section = server.library.sections.get(item.section_key)
        elements = [
            metadata_element(k, section=section, include_guids=include_guids) for k in page_items
        ]
        attrs: dict[str, object] = {
            "totalSize": total,
            "offset": start,
            "allowSync": True,
            "identifier": LIBRARY_ID,
            "key": str(item.rating_key),
            "librarySectionID": item.section_key,
            "librarySectionTitle": section.title if section else None,
            "librarySectionUUID": section.uuid if section else None,
            "parentIndex": item.index if item.kind == Kind.SEASON else None,
            "parentTitle": item.title,
            "parentYear": item.year,
            "title1": item.title,
            "title2": "Episodes" if item.kind == Kind.SEASON or leaves else "Seasons",
            "viewGroup": "episode" if item.kind == Kind.SEASON or leaves else "season",
        }
        return container_response(
            request, container(attrs, elements), headers=_paged_headers(total, start)
        )

    @bp.get("/library/recentlyAdded")
    async def get_recently_added() -> Response:
        """Movies and episodes, newest first (paged)."""
        share = authorize()
        if isinstance(share, Response):
            return share
        page = parse_page(request.headers, request.args)
        include_guids = _flag("includeGuids")
        items = server.library.leaves(share.sections)
        page_items, total, start = _window(items, page)
        elements = [
            metadata_element(
                i,
                section=server.library.sections.get(i.section_key),
                include_guids=include_guids,
                with_section=True,
            )
            for i in page_items
        ]
        root = container(
            {
                "totalSize": total,
                "offset": start,
                "allowSync": True,
                "identifier": LIBRARY_ID,
                "mixedParents": True,
                "title1": "Recently Added",
            },
            elements,
        )
        return container_response(request, root, headers=_paged_headers(total, start))

    @bp.get("/hubs/search")
    async def get_hub_search() -> Response:
        """Title search, grouped in one hub per type (``limit`` items per hub, default 3)."""
        share = authorize()
        if isinstance(share, Response):
            return share
        text = (request.args.get("query") or "").strip()
        if not text:
            raise BadRequest("query is required")
        limit = parse_int(request.args.get("limit"), "limit", default=3)
        raw_section = request.args.get("sectionId")
        section_key = None if not raw_section else parse_int(raw_section, "sectionId")
        if section_key is not None and not share.can_see(section_key):
            section_key = -1
        hits = server.library.search(text, section_key)
        hubs = []
        for kind in (Kind.MOVIE, Kind.SHOW, Kind.SEASON, Kind.EPISODE):
            found = [i for i in hits.get(kind, []) if share.can_see(i.section_key)]
            shown = found[:limit]
            hub = Element(
                "Hub",
                {
                    "title": _HUB_TITLES[kind],
                    "type": kind.label,
                    "hubIdentifier": kind.label,
                    "context": f"hub.{kind.label}",
                    "size": len(shown),
                    "more": len(found) > limit,
                    "style": "shelf",
                    "hubKey": "/library/metadata/" + ",".join(str(i.rating_key) for i in shown)
                    if shown
                    else None,
                },
            )
            for item in shown:
                hub.add(
                    metadata_element(
                        item,
                        section=server.library.sections.get(item.section_key),
                        with_section=True,
                    )
                )
            hubs.append(hub)
        return container_response(request, container({}, hubs))

    @bp.get("/status/sessions")
    async def get_sessions() -> Response:
        """Playbacks in progress (admin only)."""
        share = admin()
        if isinstance(share, Response):
            return share
        elements = [
            session_element(s, server, world.accounts[s.account_key])
            for s in server.activity.sessions
        ]
        return container_response(request, container({}, elements))

    @bp.get("/status/sessions/history/all")
    async def get_history() -> Response:
        """Watch history (admin only), newest first unless ``sort`` says otherwise."""
        share = admin()
        if isinstance(share, Response):
            return share
        page = parse_page(request.headers, request.args)
        filters = parse_filters(request.args, HISTORY_FILTERS, world.now())
        spec = parse_sort(request.args.get("sort"), HISTORY_SORTS, (("viewedAt", True),))
        raw_item = request.args.get("metadataItemID")
        item_key = None if not raw_item else parse_int(raw_item, "metadataItemID")
        records = [
            r
            for r in server.activity.history
            if all(f.matches(r.field(f.field)) for f in filters)
            and (item_key is None or r.involves(item_key))
        ]
        records.sort(key=lambda r: r.history_id)
        for name, descending in reversed(spec):
            records.sort(key=partial(_history_key, name), reverse=descending)
        total, start, stop = window(len(records), page)
        root = container(
            {"totalSize": total, "offset": start}, [history_element(r) for r in records[start:stop]]
        )
        return container_response(request, root, headers=_paged_headers(total, start))

    return bp
