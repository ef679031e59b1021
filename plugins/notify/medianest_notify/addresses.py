"""Email addresses, checked by their form alone (no DNS lookups, no connection).

Accepted: ``local@domain`` with a dot-atom local part (letters, digits and
``!#$%&'*+/=?^_`{|}~.-``, no leading, trailing or doubled dot; letters of any script allowed)
and a domain of at least two labels (letters of any script, digits, hyphens; each label 1-63
characters, not starting or ending with a hyphen; a top-level label that is not all digits).
Refused: display names (``Ann <ann@x.org>``), quoted local parts, address literals
(``user@[10.0.0.1]``), whitespace and control characters (they could inject mail headers),
and anything longer than 254 characters. The domain is stored in lower case.
"""

from __future__ import annotations

import re
from typing import Final

from medianest.sdk import InvalidInputError

MAX_LENGTH: Final = 254
MAX_LOCAL: Final = 64
_LOCAL_SPECIALS: Final = frozenset("!#$%&'*+/=?^_`{|}~-")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def check_email(address: str, *, field: str = "address") -> str:
    """``address`` normalised (trimmed, domain in lower case), or an error saying what is wrong.

    :raises InvalidInputError: naming ``field`` and the problem.
    """
    value = address.strip()
    if not value:
        raise InvalidInputError("the email address is empty", field=field)
    if len(value) > MAX_LENGTH:
        raise InvalidInputError(
            f"the email address is too long ({len(value)} characters, at most {MAX_LENGTH})",
            field=field,
        )
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInputError(
            "the email address contains spaces or control characters", field=field
        )
    if "<" in value or ">" in value or '"' in value:
        raise InvalidInputError(
            "give the bare email address (ann@example.org), without a name or quotes",
            field=field,
        )
    if value.count("@") != 1:
        raise InvalidInputError(
            "the email address must contain exactly one @ (ann@example.org)", field=field
        )
    local, domain = value.split("@")
    _check_local(local, field)
    domain = _check_domain(domain, field)
    return f"{local}@{domain}"


def _check_local(local: str, field: str) -> None:
    if not local:
        raise InvalidInputError("the email address has nothing before the @", field=field)
    if len(local) > MAX_LOCAL:
        raise InvalidInputError(
            f"the part before the @ is too long (at most {MAX_LOCAL} characters)", field=field
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidInputError(
            "the part before the @ must not start or end with a dot or hold two dots in a row",
            field=field,
        )
    for char in local:
        if char != "." and not char.isalnum() and char not in _LOCAL_SPECIALS:
            raise InvalidInputError(
                f"the part before the @ contains {char!r}, which an address may not", field=field
            )


def _check_domain(domain: str, field: str) -> str:
    if not domain:
        raise InvalidInputError("the email address has no domain after the @", field=field)
    if domain.startswith("["):
        raise InvalidInputError(
            "the email address must have a domain name, not an IP address", field=field
        )
    domain = domain.lower().removesuffix(".")
    labels = domain.split(".")
    if len(labels) < 2:
        raise InvalidInputError(f"the domain {domain!r} needs a dot (example.org)", field=field)
    for label in labels:
        try:
            ascii_label = label.encode("idna").decode("ascii") if label else ""
        except UnicodeError as exc:
            raise InvalidInputError(
                f"the domain {domain!r} has a label that is not a valid name", field=field
            ) from exc
        if not _LABEL.match(ascii_label):
            raise InvalidInputError(
                f"the domain {domain!r} is not a valid name (labels are letters, digits and "
                "hyphens, 1 to 63 characters, not starting or ending with a hyphen)",
                field=field,
            )
    if labels[-1].isdigit():
        raise InvalidInputError(
            f"the domain {domain!r} must end with a name, not a number", field=field
        )
    return domain
