"""The request class: bodies that are not JSON or not UTF-8 are the caller's mistake (400)."""

from __future__ import annotations

import json
from typing import Any

from quart import Request

from medianest.sdk.errors import InvalidInputError


class HubRequest(Request):
    """A Quart request whose ``get_json`` raises ``InvalidInputError`` instead of guessing."""

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
        except UnicodeDecodeError as exc:
            if silent:
                return None
            raise InvalidInputError("the request body is not UTF-8 text", field="body") from exc
        except ValueError as exc:
            if silent:
                return None
            raise InvalidInputError(
                f"the request body is not valid JSON: {exc}", field="body"
            ) from exc
        except InvalidInputError:
            if silent:
                return None
            raise
        if cache:
            self._cached_json[silent] = result
        return result
