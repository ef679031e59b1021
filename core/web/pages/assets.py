"""Static files of the pages: read once, fingerprinted, cached for a year, with ETags.

An :class:`AssetSet` is a folder of files (core's ``core/web/static``, a plugin's own). Each
file is served under two names: its own (``app.js``: ``Cache-Control: no-cache`` and an ETag,
for anyone who typed it) and its fingerprinted one (``app.3f9c2a7b1d04.js``: the first twelve
hex digits of its SHA-256, ``Cache-Control: public, max-age=31536000, immutable``). Pages link
the fingerprinted names (``{{ asset("app.js") }}``), so a new release is fetched at once and
an unchanged file never again.

ES modules import each other by relative name (``import { send } from "./net.js";``): those
imports are rewritten to the fingerprinted names, so an importer's fingerprint changes with
what it imports.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from quart import Response, current_app, request, url_for

STATIC_DIR = Path(__file__).parent.parent / "static"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
}
FINGERPRINT_DIGITS = 12
IMMUTABLE = "public, max-age=31536000, immutable"
ASSETS_EXTENSION = "medianest.assets"
_IMPORT = re.compile(r"""(\bfrom\s*|\bimport\s*\(?\s*)(["'])\./([\w.-]+\.js)\2""")


@dataclass(frozen=True, slots=True)
class Asset:
    """One file: its served bytes, content type, ETag and fingerprinted name."""

    name: str
    content: bytes
    content_type: str
    digest: str

    @property
    def fingerprinted(self) -> str:
        stem, _, suffix = self.name.rpartition(".")
        return f"{stem}.{self.digest}.{suffix}"


class AssetSet:
    """The files of one folder (not its subfolders), by name and by fingerprinted name."""

    def __init__(self, folder: Path) -> None:
        raw = (
            {
                path.name: path.read_bytes()
                for path in sorted(folder.iterdir())
                if path.is_file() and path.suffix in CONTENT_TYPES
            }
            if folder.is_dir()
            else {}
        )
        self.by_name: dict[str, Asset] = {}
        for name in raw:
            self._load(name, raw, ())
        self.by_fingerprint = {asset.fingerprinted: asset for asset in self.by_name.values()}

    def _load(self, name: str, raw: dict[str, bytes], chain: tuple[str, ...]) -> Asset:
        if name in self.by_name:
            return self.by_name[name]
        content = raw[name]
        if name.endswith(".js") and name not in chain:

            def fingerprint(match: re.Match[str]) -> str:
                imported = match.group(3)
                if imported not in raw or imported in chain or imported == name:
                    return match.group(0)
                target = self._load(imported, raw, (*chain, name)).fingerprinted
                return f"{match.group(1)}{match.group(2)}./{target}{match.group(2)}"

            content = _IMPORT.sub(fingerprint, content.decode("utf-8")).encode("utf-8")
        suffix = "." + name.rpartition(".")[2]
        digest = hashlib.sha256(content).hexdigest()[:FINGERPRINT_DIGITS]
        asset = Asset(name, content, CONTENT_TYPES[suffix], digest)
        self.by_name[name] = asset
        return asset

    def find(self, filename: str) -> tuple[Asset, bool] | None:
        """The asset served as ``filename`` and whether that name is fingerprinted."""
        if filename in self.by_fingerprint:
            return self.by_fingerprint[filename], True
        asset = self.by_name.get(filename)
        return (asset, False) if asset is not None else None

    def respond(self, filename: str) -> Response | None:
        """The answer for ``filename`` (a 304 when the browser has it), ``None`` if unknown."""
        found = self.find(filename)
        if found is None:
            return None
        asset, fingerprinted = found
        etag = f'"{asset.digest}"'
        cache = IMMUTABLE if fingerprinted else "no-cache"
        if request.if_none_match.contains(asset.digest):
            return Response(status=304, headers={"ETag": etag, "Cache-Control": cache})
        response = Response(asset.content, content_type=asset.content_type)
        response.headers["ETag"] = etag
        response.headers["Cache-Control"] = cache
        return response


def core_assets() -> AssetSet:
    """Core's asset set of the current app."""
    assets: AssetSet = current_app.extensions[ASSETS_EXTENSION]
    return assets


def asset_url(name: str) -> str:
    """The fingerprinted URL of core's asset ``name`` (a template's ``asset("app.css")``).

    :raises KeyError: there is no such asset (a typo in a template fails its test).
    """
    asset = core_assets().by_name.get(name)
    if asset is None:
        raise KeyError(f"no asset {name!r} in {STATIC_DIR}")
    return url_for("assets.asset", filename=asset.fingerprinted)
