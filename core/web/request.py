"""The request class: input the hub cannot hold safely is the caller's mistake.

A body that is not JSON, not UTF-8, or nested deeper than :data:`MAX_JSON_DEPTH` levels is a
400 naming the body. A string holding a lone UTF-16 surrogate (``"\\ud800"``: valid JSON but
not text, it cannot be encoded for the database, a cache key, a log line or a password hash)
or a NUL character (PostgreSQL text cannot hold one) is a 422 naming the field, in a JSON body
or in the query string. Every JSON body read through Quart (``request.get_json()``,
quart-schema's ``@validate_request``, plugin blueprints) passes these checks; the query string
is checked for every route by :func:`install_query_text_check`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError
from quart import Quart, Request, request
from quart_schema import RequestSchemaValidationError
from quart_schema.validation import QuerystringValidationError

from medianest.sdk.errors import InvalidInputError

MAX_JSON_DEPTH = 64
"""How deeply arrays and objects may nest in a request body."""
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class HubRequest(Request):
    """A Quart request whose ``get_json`` refuses unusable bodies instead of guessing.

    :raises InvalidInputError: (400, field ``body``) not JSON, not UTF-8, empty, or nested
        too deeply.
    :raises RequestSchemaValidationError: (422) a string or key holds a lone surrogate or a
        NUL character; the error names its place in the body.
    """

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if cache and self._cached_json[silent] is not Ellipsis:
            return self._cached_json[silent]
        if not (force or self.is_json):
            if silent:
                return None
            raise InvalidInputError(
                "expected a JSON body with Content-Type: application/json", field="body"
            )
        raw: bytes = await self.get_data(cache=cache, as_text=False)  # type: ignore[assignment]  # bytes when not as_text
        try:
            if not raw:
                raise InvalidInputError(
                    "the request body is empty; a JSON body is required", field="body"
                )
            result = json.loads(raw.decode("utf-8"))
            escapes = b"\\u" in raw
            if escapes or raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH:
                check_json_value(result, escapes=escapes)
        except UnicodeDecodeError as exc:
            if silent:
                return None
            raise InvalidInputError("the request body is not UTF-8 text", field="body") from exc
        except RecursionError as exc:
            if silent:
                return None
            raise _too_deep() from exc
        except ValueError as exc:
            if silent:
                return None
            raise InvalidInputError(
                f"the request body is not valid JSON: {exc}", field="body"
            ) from exc
        except (InvalidInputError, RequestSchemaValidationError):
            if silent:
                return None
            raise
        if cache:
            self._cached_json[silent] = result
        return result


def check_json_value(value: Any, *, escapes: bool = True) -> None:
    """Refuse a decoded JSON ``value`` nested too deeply or holding a string that is not text
    (a lone surrogate or a NUL character).

    :param escapes: False when the source text had no ``\\u`` escape (no surrogate or NUL can
        hide in it), which skips the string checks.
    :raises InvalidInputError: nested deeper than :data:`MAX_JSON_DEPTH` (field ``body``).
    :raises RequestSchemaValidationError: a string that is not text, naming where it is.
    """
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while pending:
        item, where = pending.pop()
        if len(where) > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(item, str):
            if escapes and not _is_text(item):
                raise _not_text(where)
        elif isinstance(item, dict):
            for key, child in item.items():
                if escapes and not _is_text(key):
                    raise _not_text((*where, _shown(key)))
                pending.append((child, (*where, key)))
        elif isinstance(item, list):
            pending.extend((child, (*where, index)) for index, child in enumerate(item))


def install_query_text_check(app: Quart) -> None:
    """Refuse a query string parameter (name or value) that is not text: 422 naming it.

    Register after the access guard, so callers without access learn nothing more than before.
    """

    @app.before_request
    async def refuse_query_strings_that_are_not_text() -> None:
        for name, value in request.args.items(multi=True):
            if not (_is_text(name) and _is_text(value)):
                raise QuerystringValidationError(_not_text_error((_shown(name),), "query"))


def _shown(name: str) -> str:
    """``name`` with what is not text replaced, to name a field in an answer."""
    return _LONE_SURROGATE.sub("\ufffd", name).replace("\x00", "\ufffd")


def _is_text(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _too_deep() -> InvalidInputError:
    return InvalidInputError(
        f"the request body is nested more than {MAX_JSON_DEPTH} levels deep", field="body"
    )


def _not_text(where: tuple[str | int, ...]) -> RequestSchemaValidationError:
    return RequestSchemaValidationError(_not_text_error(where, "body"))


def _not_text_error(where: tuple[str | int, ...], title: str) -> ValidationError:
    error = PydanticCustomError("text", "must be UTF-8 text without NUL characters")
    return ValidationError.from_exception_data(title, [{"type": error, "loc": where, "input": ""}])
