"""Checking simulator answers against the Plex OpenAPI documents in ``shared/specs``.

* PMS JSON answers are validated against ``plex-pms-openapi.json`` (the official spec; it is
  valid OpenAPI 3.1 and is used as is, with its server URL pointed at loopback, and one
  correction: it types ``Metadata.Guid`` entries with its generic ``tag`` schema, whose
  ``id`` is an integer, while a ``Guid`` id is the ``imdb://tt…``/``tmdb://…``/``tvdb://…``
  string; that entry is re-typed as a string).
* plex.tv answers (``/api/v2/pins``, ``/user``, ``/resources``) and the PMS paths the official
  spec lacks (``/library/metadata/{id}/children``, ``/library/recentlyAdded``) are validated
  against ``plex-community-openapi.yaml``. That document does not pass OpenAPI validation
  as a whole (e.g. responses that combine ``$ref`` with ``content``, and ``items`` given as a
  list), so a derived document is built from it: only the operations above, their success
  responses with the original schemas, the error responses replaced by its own
  ``BadRequestErrorResponse``/``UnauthorizedErrorResponse`` schemas, and all components.
  The community spec also documents ``POST /pins`` as 200 where plex.tv answers 201; the
  derived document keeps the schema under 201.
* ``/library/sections`` is not in the official spec; it answers exactly what the documented
  ``/library/sections/all`` answers, so it is validated as that operation.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.response.exceptions import InvalidData
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers, ImmutableMultiDict

# The specs live in the ``shared`` folder beside the repository.
SPECS = Path(__file__).resolve().parents[5] / "shared" / "specs"
LOOPBACK_SERVER: dict[str, Any] = {
    "url": "http://127.0.0.1:{port}",
    "variables": {"port": {"default": "32400"}},
}

PLEXTV_OPERATIONS = {"/pins": "post", "/pins/{pinId}": "get", "/user": "get", "/resources": "get"}
COMMUNITY_PMS_OPERATIONS = {
    "/library": "get",
    "/library/metadata/{id}/children": "get",
    "/library/metadata/{ids}/allLeaves": "get",
    "/library/recentlyAdded": "get",
}
_ERRORS_SCHEMA = {"$ref": "#/components/schemas/BadRequestErrorResponse"}


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    parameters: RequestParameters = field(default_factory=RequestParameters)
    body: bytes | None = None
    content_type: str = "application/json"


@dataclass
class _Response:
    status_code: int
    data: bytes
    headers: Headers
    content_type: str


def load_pms_spec() -> OpenAPI:
    """The official PMS spec, served from loopback."""
    spec = json.loads((SPECS / "plex-pms-openapi.json").read_text())
    spec["servers"] = [LOOPBACK_SERVER]
    spec["components"]["schemas"]["metadata"]["properties"]["Guid"]["items"] = {
        "type": "object",
        "properties": {"id": {"type": "string", "pattern": "^[a-z]+://"}},
        "required": ["id"],
    }
    return OpenAPI.from_dict(spec)


def _json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def load_community_spec() -> OpenAPI:
    """The derived plex.tv + extra-PMS document described in the module docstring."""
    with (SPECS / "plex-community-openapi.yaml").open() as handle:
        source = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    paths: dict[str, Any] = {}
    for path, method in {**PLEXTV_OPERATIONS, **COMMUNITY_PMS_OPERATIONS}.items():
        operation = copy.deepcopy(source["paths"][path][method])
        ok = operation["responses"].get("200") or operation["responses"].get("201")
        responses = {"201" if path == "/pins" else "200": ok}
        for status in ("400", "401", "404"):
            schema = (
                _ERRORS_SCHEMA
                if status != "401"
                else {"$ref": "#/components/schemas/UnauthorizedErrorResponse"}
            )
            responses[status] = _json_response(schema, f"error {status}")
        operation = {"operationId": operation.get("operationId"), "responses": responses}
        if path in PLEXTV_OPERATIONS:
            operation["servers"] = [
                {
                    "url": LOOPBACK_SERVER["url"] + "/api/v2",
                    "variables": LOOPBACK_SERVER["variables"],
                }
            ]
        paths[path] = {method: operation}
    derived = {
        "openapi": "3.1.0",
        "info": {"title": "plex.tv and PMS (community, derived)", "version": "1"},
        "servers": [LOOPBACK_SERVER],
        "paths": paths,
        "components": {"schemas": source["components"]["schemas"]},
    }
    # The community components are used as the community wrote them; some schemas in them
    # that these operations do not use are not valid OpenAPI, so the document-level check
    # is skipped (the schemas that are used are still applied in full).
    return OpenAPI.from_dict(derived, config=Config(spec_validator_cls=None))


class SpecMismatch(AssertionError):
    """An answer that does not match its documented schema."""


def validate(
    api: OpenAPI,
    response: httpx.Response,
    *,
    as_path: str | None = None,
    allowed_errors: tuple[str, ...] = (),
) -> None:
    """Assert that ``response`` matches its operation in ``api``.

    ``as_path`` validates the answer as if it came from another documented path.
    ``allowed_errors`` lists substrings of schema errors that are known, documented
    deviations of plex.tv from the community spec (each caller says why).
    """
    url = response.request.url
    request = _Request(
        host_url=f"{url.scheme}://{url.host}:{url.port}",
        path=as_path or url.path,
        method=response.request.method.lower(),
        parameters=RequestParameters(
            query=ImmutableMultiDict(url.params.multi_items()),
            header=Headers(list(response.request.headers.items())),
        ),
    )
    answer = _Response(
        status_code=response.status_code,
        data=response.content,
        headers=Headers(list(response.headers.items())),
        content_type=response.headers.get("content-type", "").split(";")[0].strip().lower(),
    )
    try:
        api.validate_response(request, answer)
    except InvalidData as exc:
        cause = exc.__cause__
        errors = [str(e) for e in getattr(cause, "schema_errors", [])] or [str(cause or exc)]
        remaining = [e for e in errors if not any(a in e for a in allowed_errors)]
        if remaining or not isinstance(cause, InvalidSchemaValue):
            raise SpecMismatch("; ".join(remaining or errors)[:2000]) from exc
