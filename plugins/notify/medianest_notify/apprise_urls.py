"""Apprise URLs: checked with Apprise itself, and kept out of every message.

An Apprise URL (``discord://webhook_id/token``, ``ntfy://topic``, ``json://host/path``...)
carries its service's credentials in its parts, so messages about one name the service and
never the URL: :func:`secrets_of` lists the parts to hide and :func:`redact` hides them.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from apprise import Apprise, AppriseAsset
from apprise.apprise import N_MGR

from medianest.sdk import InvalidInputError

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,31})://")
_MIN_SECRET: Final = 3
REDACTED: Final = "***"

_PLUGINS: Final[Any] = N_MGR

with warnings.catch_warnings():
    # Apprise loads its services on first use; its email service imports the standard
    # library's imghdr, deprecated since Python 3.11. Load them once, here, quietly.
    warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
    _PLUGINS.load_modules()


def asset() -> AppriseAsset:
    """The Apprise asset every notifier uses: URLs logged with their secrets hidden."""
    return AppriseAsset(app_id="MediaNest", app_desc="MediaNest", secure_logging=True)


def scheme_of(url: str) -> str | None:
    """The scheme of an Apprise URL in lower case (``json``), ``None`` without one."""
    match = _SCHEME.match(url.strip())
    return match.group("scheme").lower() if match else None


def service_name(url: str) -> str:
    """The service an Apprise URL is for (``Discord``), or its scheme when Apprise does not know
    it."""
    match = _SCHEME.match(url.strip())
    if not match:
        return "Apprise"
    scheme = match.group("scheme").lower()
    if scheme in _PLUGINS:
        return str(_PLUGINS[scheme].service_name)
    return f"{scheme}://"


def instantiate(url: str, *, field: str) -> Any:
    """The Apprise service object for ``url``.

    :raises InvalidInputError: naming ``field``: the URL is empty, has no scheme, uses a scheme
        Apprise does not know (named), or is malformed for its service (named); the URL itself
        is never echoed.
    """
    url = url.strip()
    if not url:
        raise InvalidInputError("the Apprise URL is empty", field=field)
    if any(ord(c) < 32 for c in url):
        raise InvalidInputError("the Apprise URL contains control characters", field=field)
    match = _SCHEME.match(url)
    if not match:
        raise InvalidInputError(
            "this is not an Apprise URL: it must start with a service's scheme, such as "
            "discord://, ntfy://, tgram://, mailto:// or json://",
            field=field,
        )
    scheme = match.group("scheme").lower()
    if scheme not in _PLUGINS:
        raise InvalidInputError(
            f"Apprise does not know the scheme {scheme}:// (see Apprise's list of services)",
            field=field,
        )
    service = _PLUGINS[scheme]
    if not service.enabled:
        raise InvalidInputError(
            f"Apprise's {service.service_name} service ({scheme}://) is not available on this "
            "hub (a library it needs is missing)",
            field=field,
        )
    plugin = Apprise.instantiate(url, asset=asset(), suppress_exceptions=True)
    if plugin is None:
        raise InvalidInputError(
            f"the {service.service_name} URL ({scheme}://) is malformed: a part it needs is "
            "missing or wrong (check it against Apprise's page for that service)",
            field=field,
        )
    return plugin


def check(url: str, *, field: str) -> str:
    """``url`` stripped, once Apprise accepts it (see :func:`instantiate`)."""
    instantiate(url, field=field)
    return url.strip()


def secrets_of(url: str) -> set[str]:
    """The parts of ``url`` that may be credentials: user, password, host, path segments and
    query values (decoded and not), each at least a few characters long."""
    rest = _SCHEME.sub("", url.strip(), count=1)
    found: set[str] = set()
    head, _, query = rest.partition("?")
    for piece in re.split(r"[/@:]", head):
        found.update({piece, unquote(piece)})
    for _name, value in parse_qsl(query, keep_blank_values=False):
        found.update({value})
    for piece in re.split(r"[&=]", query):
        found.update({piece, unquote(piece)})
    return {s for s in found if len(s) >= _MIN_SECRET}


def redact(text: str, url: str) -> str:
    """``text`` with every part of ``url`` that may be a secret replaced by ``***``."""
    for secret in sorted(secrets_of(url), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
