"""``MediaContainer`` builders for the PMS routes (server info, sections, sessions, history)."""

from __future__ import annotations

from collections.abc import Sequence

from medianest_plex.simulator.accounts import Account, Share
from medianest_plex.simulator.activity import HistoryRecord, Session
from medianest_plex.simulator.items import Item, Kind, Section
from medianest_plex.simulator.metadata import metadata_element
from medianest_plex.simulator.render import Element
from medianest_plex.simulator.servers import SimServer

LIBRARY_ID = "com.plexapp.plugins.library"
MEDIA_TAG_PREFIX = "/system/bundle/media/flags/"
MEDIA_TAG_VERSION = 1_717_000_000


def container(attrs: dict[str, object], children: list[Element] | None = None) -> Element:
    """A ``MediaContainer`` whose ``size`` is the number of children."""
    kids = children or []
    return Element("MediaContainer", {"size": len(kids), **attrs}, kids)


def server_root(server: SimServer, owner: Account) -> Element:
    """``GET /``: server configuration plus the top-level directories."""
    directories = [
        Element("Directory", {"count": 1, "key": key, "title": key})
        for key in ("hubs", "library", "playlists", "search", "status", "system")
    ]
    return container(
        {
            "allowCameraUpload": False,
            "allowChannelAccess": True,
            "allowMediaDeletion": True,
            "allowSharing": True,
            "allowSync": True,
            "allowTuners": False,
            "backgroundProcessing": True,
            "certificate": True,
            "companionProxy": True,
            "countryCode": "usa",
            "diagnostics": "logs,databases,streaminglogs",
            "eventStream": True,
            "friendlyName": server.name,
            "hubSearch": True,
            "itemClusters": True,
            "livetv": 7,
            "machineIdentifier": server.machine_identifier,
            "mediaProviders": True,
            "multiuser": True,
            "musicAnalysis": 2,
            "myPlex": True,
            "myPlexMappingState": "mapped",
            "myPlexSigninState": "ok",
            "myPlexSubscription": True,
            "myPlexUsername": owner.email,
            "offlineTranscode": 1,
            "ownerFeatures": "collections,home,webhooks,hwtranscode",
            "platform": "Linux",
            "platformVersion": "6.1.0-21-amd64",
            "pluginHost": True,
            "pushNotifications": False,
            "readOnlyLibraries": False,
            "streamingBrainABRVersion": 3,
            "streamingBrainVersion": 2,
            "sync": True,
            "transcoderActiveVideoSessions": 0,
            "transcoderAudio": True,
            "transcoderLyrics": True,
            "transcoderPhoto": True,
            "transcoderSubtitles": True,
            "transcoderVideo": True,
            "transcoderVideoBitrates": (
                "64,96,208,320,720,1500,2000,3000,4000,8000,10000,12000,20000"
            ),
            "transcoderVideoQualities": "0,1,2,3,4,5,6,7,8,9,10,11,12",
            "transcoderVideoResolutions": "128,128,160,240,320,480,768,720,720,1080,1080,1080,1080",
            "updatedAt": server.created_at,
            "updater": True,
            "version": server.version,
            "voiceSearch": True,
        },
        directories,
    )


def identity(server: SimServer) -> Element:
    """``GET /identity``."""
    return Element(
        "MediaContainer",
        {
            "size": 0,
            "claimed": True,
            "machineIdentifier": server.machine_identifier,
            "version": server.version,
        },
    )


def section_element(section: Section) -> Element:
    """One ``Directory`` of ``/library/sections``."""
    art = (
        "/:/resources/movie-fanart.jpg"
        if section.type == Kind.MOVIE
        else "/:/resources/show-fanart.jpg"
    )
    thumb = "/:/resources/movie.png" if section.type == Kind.MOVIE else "/:/resources/show.png"
    return Element(
        "Directory",
        {
            "allowSync": True,
            "art": art,
            "composite": f"/library/sections/{section.key}/composite/{section.scanned_at}",
            "filters": True,
            "refreshing": False,
            "thumb": thumb,
            "key": str(section.key),
            "type": section.type_label,
            "title": section.title,
            "agent": section.agent,
            "scanner": section.scanner,
            "language": "en-US",
            "uuid": section.uuid,
            "updatedAt": section.scanned_at,
            "createdAt": section.created_at,
            "scannedAt": section.scanned_at,
            "content": True,
            "directory": True,
            "contentChangedAt": section.content_changed_at,
            "hidden": False,
        },
        [Element("Location", {"id": section.key, "path": section.location})],
    )


def library_root() -> Element:
    """``GET /library``: the library's top-level directories, as PMS lists them."""
    directories = [
        Element("Directory", {"key": key, "title": title})
        for key, title in (
            ("sections", "Library Sections"),
            ("recentlyAdded", "Recently Added Content"),
            ("onDeck", "On Deck Content"),
        )
    ]
    return container(
        {
            "allowSync": False,
            "art": "/:/resources/library-art.png",
            "content": "",
            "identifier": LIBRARY_ID,
            "mediaTagPrefix": MEDIA_TAG_PREFIX,
            "mediaTagVersion": MEDIA_TAG_VERSION,
            "title1": "Plex Library",
            "title2": "",
        },
        directories,
    )


def sections_container(server: SimServer, share: Share) -> Element:
    """``GET /library/sections``: the sections ``share`` may see."""
    visible = [section_element(s) for s in server.library.sections.values() if share.can_see(s.key)]
    return container({"allowSync": True, "title1": "Plex Library"}, visible)


_TITLE2 = {
    Kind.MOVIE: "All Movies",
    Kind.SHOW: "All Shows",
    Kind.SEASON: "All Seasons",
    Kind.EPISODE: "All Episodes",
}


def section_listing(
    section: Section,
    kind: Kind,
    items: Sequence[Item],
    *,
    total: int,
    offset: int,
    include_guids: bool,
) -> Element:
    """``GET /library/sections/{id}/all``: a page of ``kind`` items of ``section``."""
    children = [metadata_element(i, section=section, include_guids=include_guids) for i in items]
    art = (
        "/:/resources/movie-fanart.jpg"
        if section.type == Kind.MOVIE
        else "/:/resources/show-fanart.jpg"
    )
    return container(
        {
            "totalSize": total,
            "offset": offset,
            "allowSync": True,
            "art": art,
            "identifier": LIBRARY_ID,
            "librarySectionID": section.key,
            "librarySectionTitle": section.title,
            "librarySectionUUID": section.uuid,
            "mediaTagPrefix": MEDIA_TAG_PREFIX,
            "mediaTagVersion": MEDIA_TAG_VERSION,
            "thumb": "/:/resources/movie.png"
            if section.type == Kind.MOVIE
            else "/:/resources/show.png",
            "title1": section.title,
            "title2": _TITLE2[kind],
            "viewGroup": kind.label,
        },
        children,
    )


def session_element(session: Session, server: SimServer, account: Account) -> Element:
    """One playing ``Video`` of ``/status/sessions`` with ``User``, ``Player``, ``Session``."""
    item = session.item
    section = server.library.sections.get(item.section_key)
    element = metadata_element(item, section=section, with_section=True)
    element.attrs["sessionKey"] = str(session.session_key)
    element.attrs["viewOffset"] = session.view_offset
    player = session.player
    element.add(
        Element(
            "User",
            {"id": str(session.account_local_id), "thumb": account.thumb, "title": account.title},
            single=True,
        )
    )
    element.add(
        Element(
            "Player",
            {
                "address": player.address,
                "machineIdentifier": player.machine_identifier,
                "model": player.model,
                "platform": player.platform,
                "platformVersion": player.platform_version,
                "product": player.product,
                "profile": player.product,
                "remotePublicAddress": "203.0.113.25" if not player.local else player.address,
                "state": session.state,
                "title": player.title,
                "vendor": player.vendor,
                "version": player.version,
                "local": player.local,
                "relayed": False,
                "secure": True,
                "userID": session.account_local_id,
            },
            single=True,
        )
    )
    element.add(
        Element(
            "Session",
            {
                "id": f"sim-{server.slug}-{session.session_key}",
                "bandwidth": session.bandwidth,
                "location": "lan" if player.local else "wan",
            },
            single=True,
        )
    )
    return element


def history_element(record: HistoryRecord) -> Element:
    """One entry of ``/status/sessions/history/all``."""
    attrs: dict[str, object] = {
        "historyKey": f"/status/sessions/history/{record.history_id}",
        "key": f"/library/metadata/{record.rating_key}",
        "ratingKey": str(record.rating_key),
        "librarySectionID": str(record.section_key),
        "parentKey": f"/library/metadata/{record.parent_rating_key}"
        if record.parent_rating_key
        else None,
        "grandparentKey": f"/library/metadata/{record.grandparent_rating_key}"
        if record.grandparent_rating_key
        else None,
        "title": record.title,
        "grandparentTitle": record.grandparent_title,
        "parentTitle": record.parent_title,
        "type": record.kind.label,
        "thumb": record.thumb,
        "parentThumb": None,
        "index": record.index,
        "parentIndex": record.parent_index,
        "originallyAvailableAt": record.originally_available_at,
        "viewedAt": record.viewed_at,
        "accountID": record.account_local_id,
        "deviceID": record.device_id,
    }
    return Element("Video", attrs, key="Metadata")
