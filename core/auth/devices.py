"""A short, human name for the device behind a user agent, for the list of sessions."""

from __future__ import annotations

import re

UNKNOWN = "Unknown device"

_BROWSERS: tuple[tuple[str, str], ...] = (
    # order matters: Edge and Opera say Chrome too, Chrome says Safari too
    (r"Edg(?:e|A|iOS)?/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrome/|CriOS/|Chromium/", "Chrome"),
    (r"Safari/", "Safari"),
)
_SYSTEMS: tuple[tuple[str, str], ...] = (
    (r"iPhone|iPad|iPod", "iOS"),
    (r"Android", "Android"),
    (r"CrOS", "ChromeOS"),
    (r"Windows", "Windows"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"Linux", "Linux"),
)
_PRODUCT = re.compile(r"^([A-Za-z][A-Za-z0-9._-]{0,40})(?:/([0-9][0-9A-Za-z.]{0,20}))?")


def describe_device(user_agent: str | None) -> str:
    """``Firefox on Linux``, ``Safari on iOS``, ``curl 8.5.0``... or :data:`UNKNOWN`.

    Only recognised names and the leading product token are used, so the result never
    repeats arbitrary text from the header.
    """
    if not user_agent:
        return UNKNOWN
    browser = next((name for pattern, name in _BROWSERS if re.search(pattern, user_agent)), None)
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, user_agent)), None)
    if browser and user_agent.startswith("Mozilla/"):
        return f"{browser} on {system}" if system else browser
    product = _PRODUCT.match(user_agent)
    if product is None:
        return UNKNOWN
    name, version = product.groups()
    return f"{name} {version}" if version else name
