"""What core's account and admin endpoints share: who is calling, checking permission names,
and paging through lists.

Lists page by row id with an opaque ``cursor`` (see :func:`page_by_id`): stable while rows
are added, cheap at any depth, and each page carries the ``total`` of the whole filtered list.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from medianest.core.web.path_ids import INT4_MAX, INT8_MAX
from medianest.sdk.access import Permission
from medianest.sdk.errors import AuthenticationError, InvalidInputError
from medianest.sdk.models import Principal, decode_cursor, encode_cursor
from medianest.sdk.web import current_principal

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
"""What every cursor the hub makes looks like (URL-safe base64 without padding)."""
PERMISSION_NAMES = sorted(str(p) for p in Permission)
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_only(value: Any) -> Any:
    """Refuse what pydantic would read as a date-time but ISO 8601 does not (``0.5``, a
    number of seconds since 1970)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATETIME.match(value):
        raise ValueError("must be an ISO 8601 date-time with a time zone (2024-05-01T12:00:00Z)")
    return value


def _integral(value: Any) -> Any:
    """JSON has one number type: ``1924.0`` is the integer 1924; a string or a bool is not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


JSON_INTEGRAL = BeforeValidator(_integral)
"""Reads an integer in a JSON body as JSON Schema's ``integer`` means it (``7`` or ``7.0``,
never ``"7"``). Put it after the bounds, so they show in the document:
``Annotated[int, Field(ge=..., lt=...), JSON_INTEGRAL]``."""


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
"""An ISO 8601 date-time with a time zone; nothing else pydantic would accept as one."""
PermissionName = Annotated[
    str,
    Field(min_length=1, max_length=100, json_schema_extra={"enum": PERMISSION_NAMES}),
]
"""A permission's name; an unknown one is refused by :func:`known_permission_list` (400)."""


def caller() -> Principal:
    """The principal the current request runs as.

    :raises AuthenticationError: the request is anonymous (the route's access declaration
        refuses that before the view runs; this guards views against running without it).
    """
    principal = current_principal()
    if principal is None:
        raise AuthenticationError("authentication required")
    return principal


def known_permission_list(names: list[str]) -> list[str]:
    """``names`` sorted and without repeats, when each is a permission.

    :raises InvalidInputError: naming the unknown ones and listing the known ones.
    """
    known = {str(p) for p in Permission}
    unknown = sorted(set(names) - known)
    if unknown:
        raise InvalidInputError(
            f"unknown permissions: {', '.join(unknown)} (known: {', '.join(sorted(known))})",
            field="permissions",
        )
    return sorted(set(names))


class PageQuery(BaseModel):
    """``limit`` and ``cursor`` of a list endpoint's query string."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="items per page")
    cursor: str | None = Field(
        default=None,
        max_length=200,
        pattern=CURSOR_PATTERN,
        description="next_cursor of the previous page; omit for the first page. Only cursors "
        "the hub made are valid: another one is refused with 400 naming `cursor`",
    )


async def page_by_id(
    query: QuerySet[M], page: PageQuery, *, newest_first: bool
) -> tuple[list[M], int, str | None]:
    """One page of ``query`` ordered by id: the rows, the total, and the next page's cursor.

    :param newest_first: highest ids first (audit events, keys); else lowest first (users).
    :raises InvalidInputError: the cursor was not made by this endpoint (field ``cursor``).
    """
    total = await query.count()
    position = _position(page.cursor, query.model)
    if position is not None:
        query = query.filter(id__lt=position) if newest_first else query.filter(id__gt=position)
    rows = await query.order_by("-id" if newest_first else "id").limit(page.limit + 1)
    following = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        following = encode_cursor({"id": rows[-1].pk})
    return rows, total, following


def _position(cursor: str | None, model: type[Model]) -> int | None:
    """The row id a cursor holds, within the range of ``model``'s id column."""
    if cursor is None:
        return None
    position = decode_cursor(cursor).get("id")
    largest = INT8_MAX if isinstance(model._meta.pk, fields.BigIntField) else INT4_MAX
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= largest:
        raise InvalidInputError("the cursor is not valid", field="cursor")
    return position
