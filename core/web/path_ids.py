"""Integer ids in URL paths (``<int:user_id>``) held to the range their database column stores.

Ids live in 32-bit (``IntField``) or 64-bit (``BigIntField``) columns, on PostgreSQL as on
SQLite. A path id beyond its column's range names nothing, so it is answered like any unknown
id: a 404 problem naming the parameter, after the route's access check (an anonymous caller
still gets 401). It never reaches the database, whose driver would refuse the value with an
error (a 500).

``<int:name>`` is bounded to the 32-bit range; a route over a 64-bit column says so with
``<int(max=INT8_MAX):name>``. :func:`install_path_ids` registers the converter on an app
before any route is added.
"""

from __future__ import annotations

from typing import Any

from quart import Quart, Response, request
from werkzeug.routing import IntegerConverter, Map

from medianest.core.web import problems
from medianest.sdk.errors import NotFoundError

INT4_MAX = 2**31 - 1
"""The largest id of an ``IntField`` column (PostgreSQL ``integer``)."""
INT8_MAX = 2**63 - 1
"""The largest id of a ``BigIntField`` column (PostgreSQL ``bigint``)."""
_MAX_DIGITS = len(str(INT8_MAX))


class OutOfRangeId(int):
    """A path id the route's column cannot hold; the request is refused before the view."""


class BoundedIdConverter(IntegerConverter):
    """``<int:name>``: digits only; values outside ``min``..``max`` (default 0..``INT4_MAX``)
    match the route as :class:`OutOfRangeId`, refused by the check :func:`install_path_id_check`
    adds, so the answer can name the parameter instead of an anonymous 404."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits=fixed_digits, signed=signed)
        self.low = 0 if min is None else min
        self.high = INT4_MAX if max is None else max

    @property
    def openapi_schema(self) -> dict[str, Any]:
        """How the API description documents the segment: an id within the column's range."""
        return {"type": "integer", "minimum": max(self.low, 1), "maximum": self.high}

    def to_python(self, value: str) -> Any:
        if len(value.lstrip("-0")) > _MAX_DIGITS:
            return OutOfRangeId(self.high + 1)  # too long to be any id (and to convert cheaply)
        number = super().to_python(value)
        if not self.low <= number <= self.high:
            return OutOfRangeId(number)
        return number


def install_path_ids(app: Quart) -> None:
    """Bound ``<int:...>`` path segments of every route of ``app`` to their column's range.

    Call right after creating the app: converters bind when routes are added. The refusal
    itself is installed by :func:`install_path_id_check`.
    """
    app.url_map.converters["int"] = BoundedIdConverter


def install_path_id_check(app: Quart) -> None:
    """Refuse a request whose path id is out of its column's range: 404 naming the parameter.

    Register after the access guard so callers without access learn nothing more than before.
    """

    @app.before_request
    async def refuse_out_of_range_ids() -> Response | None:
        for name, value in (request.view_args or {}).items():
            if isinstance(value, OutOfRangeId):
                message = f"beyond the range of ids: nothing has this {name}"
                return problems.problem(
                    404,
                    NotFoundError.code,
                    f"{name}: {message}",
                    title="Not found",
                    errors=[{"field": name, "message": message, "in": "path"}],
                )
        return None
