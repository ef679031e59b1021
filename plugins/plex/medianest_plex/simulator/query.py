"""Parsing of PMS paging, sort and media-query filter parameters.

PMS media queries put the operator on the *left* of the ``=``: ``addedAt>>=1700000000`` is
split by every query-string parser into the key ``addedAt>>`` and the value ``1700000000``
(python-plexapi percent-encodes the key as ``addedAt%3E%3E``, which decodes to the same
key). The operators are ``=``, ``!=``, ``>>=`` (after / greater than), ``<<=`` (before / less
than), ``>=`` and ``<=``; date values may be relative (``-3d``, ``+2h``, units m h d w mon y).

Every parse error raises :class:`BadRequest` with a message naming the parameter, which the
routes turn into a 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from werkzeug.datastructures import Headers, MultiDict

from medianest_plex.simulator.filtering import unprefixed


class BadRequest(Exception):
    """A request parameter is malformed; ``str(exc)`` says which and why."""


class FieldType(Enum):
    """The value type of a filterable field, deciding operators and value syntax."""

    INTEGER = "integer"
    DATE = "date"
    STRING = "string"


@dataclass(frozen=True)
class Page:
    """A requested window: ``start`` offset and ``size`` (``None`` = everything)."""

    start: int = 0
    size: int | None = None
    limit: int | None = None


@dataclass(frozen=True)
class Filter:
    """One media-query condition: ``field op values`` (several values mean OR)."""

    field: str
    op: str
    values: tuple[int | str, ...]

    def matches(self, actual: int | str | None) -> bool:
        """Whether ``actual`` satisfies this condition (``None`` never matches)."""
        if actual is None:
            return False
        op = self.op
        if op == "=":
            if isinstance(actual, str):
                low = actual.lower()
                return any(str(v).lower() in low for v in self.values)
            return actual in self.values
        if op == "!=":
            if isinstance(actual, str):
                low = actual.lower()
                return all(str(v).lower() not in low for v in self.values)
            return actual not in self.values
        if op == "==":
            return any(str(actual).lower() == str(v).lower() for v in self.values)
        if op == "!==":
            return all(str(actual).lower() != str(v).lower() for v in self.values)
        value = self.values[0]
        if isinstance(actual, str) or isinstance(value, str):
            text, probe = str(actual).lower(), str(value).lower()
            if op == "<=":
                return text.startswith(probe)
            if op == ">=":
                return text.endswith(probe)
            return False
        if op == ">>":
            return actual > value
        if op == "<<":
            return actual < value
        if op == ">=":
            return actual >= value
        if op == "<=":
            return actual <= value
        return False  # pragma: no cover - operators are validated while parsing


SortSpec = tuple[tuple[str, bool], ...]
"""A parsed ``sort`` parameter: ``((field, descending), ...)``."""

_KEY_RE = re.compile(r"^(?P<field>[A-Za-z][A-Za-z0-9.]*?)(?P<op>>>|<<|>|<|!)?$")
_RELATIVE_RE = re.compile(r"^(?P<sign>[+-])(?P<n>\d{1,10})(?P<unit>mon|m|h|d|w|y)?$")
_UNIT_SECONDS = {
    None: 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "mon": 30 * 86400,
    "y": 365 * 86400,
}
_MAX_INT = 2**53


def parse_int(raw: str | None, name: str, *, minimum: int = 0, default: int | None = None) -> int:
    """Parse a non-negative decimal integer parameter; ``default`` when absent.

    Raises :class:`BadRequest` naming ``name`` when the value is not an integer or is
    below ``minimum``.
    """
    if raw is None or raw == "":
        if default is None:
            raise BadRequest(f"{name} is required")
        return default
    text = raw.strip()
    if not re.fullmatch(r"[+-]?\d{1,16}", text):
        raise BadRequest(f"{name} must be an integer, got {raw[:40]!r}")
    value = int(text)
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}, got {value}")
    return value


def _lookup(headers: Headers, args: MultiDict[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = args.get(name)
    return value


def parse_page(headers: Headers, args: MultiDict[str, str]) -> Page:
    """Read ``X-Plex-Container-Start``/``-Size`` (header first, then query) and ``limit``."""
    start = parse_int(
        _lookup(headers, args, "X-Plex-Container-Start"), "X-Plex-Container-Start", default=0
    )
    raw_size = _lookup(headers, args, "X-Plex-Container-Size")
    size = None if raw_size in (None, "") else parse_int(raw_size, "X-Plex-Container-Size")
    raw_limit = args.get("limit")
    limit = None if raw_limit in (None, "") else parse_int(raw_limit, "limit")
    return Page(start=start, size=size, limit=limit)


def window(total: int, page: Page) -> tuple[int, int, int]:
    """Return ``(total_size, start, stop)`` for slicing a result of ``total`` items.

    ``limit`` caps the collection first (PMS then reports the capped size as the total);
    the start offset is clamped to the collection.
    """
    if page.limit is not None:
        total = min(total, page.limit)
    start = min(page.start, total)
    stop = total if page.size is None else min(total, start + page.size)
    return total, start, stop


def parse_sort(raw: str | None, allowed: frozenset[str], default: SortSpec) -> SortSpec:
    """Parse ``sort=field[:desc|:asc][,field...]``; unknown fields raise :class:`BadRequest`."""
    if raw is None or raw.strip() == "":
        return default
    spec: list[tuple[str, bool]] = []
    for part in raw.split(","):
        name, _, modifiers = part.strip().partition(":")
        name = unprefixed(name)
        if name not in allowed:
            choices = ", ".join(sorted(allowed))
            raise BadRequest(
                f"sort field {name[:40]!r} is not supported here; use one of {choices}"
            )
        flags = {m for m in modifiers.split(":") if m}
        unknown = flags - {"desc", "asc", "nullsLast"}
        if unknown:
            raise BadRequest(f"unknown sort modifier {sorted(unknown)[0][:20]!r} in {part[:60]!r}")
        spec.append((name, "desc" in flags))
    return tuple(spec)


def _parse_value(raw: str, field_type: FieldType, name: str, now: int) -> int | str:
    if field_type == FieldType.STRING:
        return raw
    text = raw.strip()
    if field_type == FieldType.DATE:
        match = _RELATIVE_RE.fullmatch(text)
        if match:
            delta = int(match["n"]) * _UNIT_SECONDS[match["unit"]]
            return now - delta if match["sign"] == "-" else now + delta
    if not re.fullmatch(r"-?\d{1,16}", text):
        raise BadRequest(f"filter {name} needs an integer value, got {raw[:40]!r}")
    value = int(text)
    if abs(value) > _MAX_INT:
        raise BadRequest(f"filter {name} value {value} is out of range")
    return value


def parse_filters(
    args: MultiDict[str, str], fields: Mapping[str, FieldType], now: int
) -> list[Filter]:
    """Extract media-query conditions on ``fields`` from the query string.

    Keys that do not name a field in ``fields`` are ignored (PMS ignores parameters it does
    not filter on, e.g. ``X-Plex-Product``). Raises :class:`BadRequest` for a known field
    with a bad value or an operator its type does not support.
    """
    out: list[Filter] = []
    for key, raw in args.items(multi=True):
        match = _KEY_RE.fullmatch(key)
        if not match or unprefixed(match["field"]) not in fields:
            continue
        name = unprefixed(match["field"])
        field_type = fields[name]
        op = {None: "=", ">>": ">>", "<<": "<<", ">": ">=", "<": "<=", "!": "!="}[match["op"]]
        value = raw
        if op in ("=", "!=") and value.startswith("="):
            op, value = op + "=", value[1:]
        if op in (">>", "<<") and field_type == FieldType.STRING:
            raise BadRequest(f"operator {op}= does not apply to text field {name}")
        if op in ("==", "!==") and field_type != FieldType.STRING:
            op = op[:-1]
        if op in ("=", "!=", "==", "!=="):
            parts = value.split(",") if field_type != FieldType.STRING else [value]
            values = tuple(_parse_value(p, field_type, key, now) for p in parts)
        else:
            values = (_parse_value(value, field_type, key, now),)
        out.append(Filter(field=name, op=op, values=values))
    return out
