"""The request class: JSON bodies the hub cannot hold safely are the caller's mistake.

A body that is not JSON, not UTF-8, or nested deeper than :data:`MAX_JSON_DEPTH` levels is a
400 naming the body; a string holding a lone UTF-16 surrogate (``"\\ud800"``, valid JSON but
not text: it cannot be encoded for the database, a cache key, a log line or a password hash)
is a 422 naming the field. Every JSON body read through Quart (``request.get_json()``,
quart-schema's ``@validate_request``, plugin blueprints) passes these checks.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError
from quart import Request
from quart_schema import RequestSchemaValidationError

from medianest.sdk.errors import InvalidInputError

MAX_JSON_DEPTH = 64
"""How deeply arrays and objects may nest in a request body."""
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class HubRequest(Request):
    """A Quart request whose ``get_json`` refuses unusable bodies instead of guessing.

    :raises InvalidInputError: (400, field ``body``) not JSON, not UTF-8, empty, or nested
        too deeply.
    :raises RequestSchemaValidationError: (422) a string or key holds a lone surrogate; the
        error names its place in the body.
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
        raw = await self.get_data(cache=cache, as_text=False)
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
    """Refuse a decoded JSON ``value`` nested too deeply or holding a lone surrogate.

    :param escapes: False when the source text had no ``\\u`` escape (no surrogate can hide in
        it), which skips the string checks.
    :raises InvalidInputError: nested deeper than :data:`MAX_JSON_DEPTH` (field ``body``).
    :raises RequestSchemaValidationError: a lone surrogate, naming where it is.
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
                    raise _not_text((*where, _LONE_SURROGATE.sub("\ufffd", key)))
                pending.append((child, (*where, key)))
        elif isinstance(item, list):
            pending.extend((child, (*where, index)) for index, child in enumerate(item))


def _is_text(value: str) -> bool:
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
    cause = ValidationError.from_exception_data(
        "body",
        [
            {
                "type": "string_unicode",
                "loc": where,
                "input": "",
            }
        ],
    )
    return RequestSchemaValidationError(cause)
