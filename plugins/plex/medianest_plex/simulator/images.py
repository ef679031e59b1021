"""Pictures of the simulated library: every item's ``thumb`` and ``art``, and the photo
transcoder (``/photo/:/transcode``), as a real PMS serves them.

Each picture is a PNG drawn here, deterministic for an item: a colour of its own (from the
work's ``ident``, so the same film looks the same on every server), shading to darker
towards the bottom, and the first letter of its title in a block letter. PMS's transcoder
answers JPEG by default; this one always answers PNG (``image/png``), which needs nothing but
the standard library.

- ``GET /library/metadata/<ratingKey>/thumb/<updatedAt>`` and ``.../art/<updatedAt>``: the
  picture at its own size (600x900 for a thumb, 1280x720 for art).
- ``GET /photo/:/transcode?url=<one of those paths>&width=&height=``: scaled to ``width`` x
  ``height`` (each at most 2000; one given keeps the picture's proportions). ``url`` must be a
  path of this server's library; anything else answers 400, an unknown item 404.

Both need a token the server accepts and hide items of sections the token cannot see (404).
"""

from __future__ import annotations

import re
import struct
import zlib
from functools import lru_cache

from quart import Blueprint, Response, request

from medianest_plex.simulator.accounts import Share
from medianest_plex.simulator.items import Item, Kind
from medianest_plex.simulator.query import BadRequest, parse_int
from medianest_plex.simulator.servers import SimServer
from medianest_plex.simulator.web import plex_param, pms_error

MAX_SIDE = 2000
SIZES = {"thumb": (600, 900), "art": (1280, 720)}
_PICTURE_PATH = re.compile(r"^/library/metadata/([0-9]{1,18})/(thumb|art)/([0-9]{1,12})$")

# A 5x7 block letter per character ("#" lit), enough for the first letter of a title.
_GLYPHS: dict[str, tuple[str, ...]] = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
}


def _colour(ident: int) -> tuple[int, int, int]:
    """A saturated, mid-dark colour of the work ``ident`` (white letters stay readable)."""
    mixed = zlib.crc32(ident.to_bytes(8, "big", signed=False))
    hue = (mixed % 360) / 60.0
    sector, fraction = int(hue), hue - int(hue)
    high, low = 170, 50
    rising = int(low + (high - low) * fraction)
    falling = int(high - (high - low) * fraction)
    return (
        (high, rising, low),
        (falling, high, low),
        (low, high, rising),
        (low, falling, high),
        (rising, low, high),
        (high, low, falling),
    )[sector % 6]


def _png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


@lru_cache(maxsize=256)
def draw(ident: int, letter: str, width: int, height: int) -> bytes:
    """The PNG of a work: its colour shading down, ``letter`` in white in the middle."""
    red, green, blue = _colour(ident)
    glyph = _GLYPHS.get(letter.upper())
    cell = max(1, min(width // 14, height // 21))
    left = (width - 5 * cell) // 2
    top = (height - 7 * cell) * 2 // 5
    white = b"\xf2\xf2\xf2"
    rows: list[bytes] = []
    for y in range(height):
        shade = 1.0 - 0.55 * y / max(1, height - 1)
        pixel = bytes((int(red * shade), int(green * shade), int(blue * shade)))
        row = bytearray(pixel * width)
        line = (y - top) // cell if glyph is not None and y >= top else -1
        if glyph is not None and 0 <= line < 7:
            for column, lit in enumerate(glyph[line]):
                if lit == "#":
                    start = (left + column * cell) * 3
                    row[start : start + cell * 3] = white * cell
        rows.append(bytes(row))
    return _png(width, height, rows)


def _initial(item: Item) -> str:
    show = item.show if item.kind in (Kind.SEASON, Kind.EPISODE) else None
    return (show.title if show is not None else item.title)[:1]


def build_images_blueprint(server: SimServer) -> Blueprint:
    """The picture routes of ``server``."""
    bp = Blueprint("pms_images", __name__)

    def visible(share: Share, rating_key: str) -> Item | None:
        item = server.library.get(int(rating_key))
        if item is None or not share.can_see(item.section_key):
            return None
        return item

    def picture(item: Item, which: str, width: int | None, height: int | None) -> Response:
        natural_width, natural_height = SIZES[which]
        if width is None and height is None:
            width, height = natural_width, natural_height
        elif height is None:
            assert width is not None
            height = max(1, width * natural_height // natural_width)
        elif width is None:
            width = max(1, height * natural_width // natural_height)
        body = draw(item.ident, _initial(item), min(width, MAX_SIDE), min(height, MAX_SIDE))
        response = Response(body, content_type="image/png")
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    def authorize() -> Share | Response:
        share = server.share_for_token(plex_param(request, "X-Plex-Token"))
        if share is None:
            return pms_error(401, "Unauthorized")
        return share

    @bp.get("/library/metadata/<rating_key>/<any(thumb, art):which>/<stamp>")
    async def get_picture(rating_key: str, which: str, stamp: str) -> Response:
        """An item's thumb or art at its own size."""
        share = authorize()
        if isinstance(share, Response):
            return share
        if not rating_key.isdigit() or len(rating_key) > 18:
            raise BadRequest(f"ratingKey must be an integer, got {rating_key[:40]!r}")
        item = visible(share, rating_key)
        if item is None:
            return pms_error(404, "Not Found", "no such item")
        return picture(item, which, None, None)

    @bp.get("/photo/:/transcode")
    async def transcode() -> Response:
        """A library picture scaled to ``width`` x ``height``."""
        share = authorize()
        if isinstance(share, Response):
            return share
        url = request.args.get("url") or ""
        found = _PICTURE_PATH.fullmatch(url)
        if found is None:
            raise BadRequest("url must be a thumb or art path of this server's library")
        width = _side("width")
        height = _side("height")
        item = visible(share, found.group(1))
        if item is None:
            return pms_error(404, "Not Found", "no such item")
        return picture(item, found.group(2), width, height)

    return bp


def _side(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    return parse_int(raw, name, minimum=1)
