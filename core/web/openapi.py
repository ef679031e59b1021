"""The OpenAPI document: quart-schema's, completed with what every operation shares.

Each operation carries ``x-medianest-access``, the access its view declares
(``{"kind": "public" | "signed_in" | "permission", "permission": ..., "api_keys": bool,
"description": ...}``; ``api_keys``: whether an API key may call it),
the security schemes that satisfy it, and every problem it can answer, added here in one
place from what the route is: 401/403 when it needs a sign-in; 404 when its path names
something; 422 when it takes parameters or a body; 400, 413 and 415 when it takes a body; 429
on the API (rate limits); 503 (with ``Retry-After``) when it needs the database or Redis.
Answers no model describes (a 204, a problem particular to the view) are declared on the view
with :func:`medianest.sdk.web.responds`.

Path parameters say what their routes accept: an integer id is 1 to 2147483647 (the range of
an id column on every database; outside it nothing can match: 404), and a string is never
empty; a converter with an ``openapi_schema`` attribute gives its own. Query parameters a
model requires are marked ``required`` (quart-schema leaves that out).
"""

from __future__ import annotations

from typing import Any

from quart_schema import OpenAPIProvider
from quart_schema.conversion import model_schema
from werkzeug.routing import BaseConverter, Rule
from werkzeug.routing.converters import IntegerConverter

from medianest.core.web.guard import route_access
from medianest.core.web.path_ids import INT4_MAX
from medianest.core.web.session_cookies import ACCESS_COOKIE
from medianest.sdk.web import responses_of

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem: every error the API returns has this shape.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri", "example": "urn:medianest:problem:not_found"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "stable machine-readable error code"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "in": {"type": "string"},
                },
            },
        },
    },
}
PROBLEM_RESPONSE = {
    "description": "An error, as application/problem+json",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
PROBLEM_RESPONSE_TYPE = "application/problem+json"
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
ACCESS_EXTENSION = "x-medianest-access"
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "an access token from sign-in or refresh, or an API key (mnk_...)",
    },
    "cookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": ACCESS_COOKIE,
        "description": "the browser session; unsafe methods also need the X-CSRF-Token header",
    },
}
SIGNED_IN_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"cookie": []}]
UNAUTHENTICATED_RESPONSE = {
    "description": "No valid sign-in (missing, expired, revoked or invalid credentials)",
    "content": PROBLEM_RESPONSE["content"],
}
FORBIDDEN_RESPONSE = {
    "description": "A permission is missing (named in `permission`), or the CSRF header",
    "content": PROBLEM_RESPONSE["content"],
}
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}


def _problem(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": PROBLEM_RESPONSE["content"]}
    if retry_after:
        response["headers"] = RETRY_AFTER_HEADER
    return response


NOT_FOUND = _problem("What the path names does not exist (or is not the caller's to see)")
VALIDATION_FAILED = _problem(
    "A parameter or the body is not valid: `errors` names each field (`in`: path, query, body)"
)
UNUSABLE_VALUE = _problem(
    "A value the schema allows but the hub cannot use: a cursor it did not make, a source it "
    "does not have (`errors` names the parameter)"
)
BAD_BODY = _problem("The body is not JSON (or is empty, or not UTF-8)")
TOO_LARGE = _problem("The body is larger than the hub accepts")
UNSUPPORTED_TYPE = _problem("The body is not application/json")
RATE_LIMITED = _problem("Too many calls: wait `Retry-After` seconds", retry_after=True)
UNAVAILABLE = _problem(
    "The database or Redis cannot be reached: try again after `Retry-After` seconds",
    retry_after=True,
)
NO_NUL_PATTERN = "^[^\\u0000]*$"
"""Any text the hub is sent: no NUL character (the request is refused with 422 naming it)."""
COMPONENT_PREFIX = "#/components/schemas/"
ANY_TEXT_JSON = "JsonWithoutNul"
ANY_TEXT_JSON_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value whose texts (strings and keys) hold no NUL character",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL_PATTERN},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": COMPONENT_PREFIX + ANY_TEXT_JSON}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL_PATTERN},
            "additionalProperties": {"$ref": COMPONENT_PREFIX + ANY_TEXT_JSON},
        },
    ],
}
"""What a free-form part of a request body may hold: the hub refuses text with a NUL in it."""
NEEDS_NO_STATE = {"/health/live", "/health/ready"}
"""Paths that answer without the database or Redis (readiness reports them in its body)."""


class HubOpenAPIProvider(OpenAPIProvider):
    """Adds the Problem schema as every operation's default response, marks request bodies
    as required (an empty body is refused with 400), and describes each operation's access."""

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        access = route_access(self._app.view_functions, rule.endpoint)
        if access is not None:
            described = {
                "kind": access.kind,
                "permission": str(access.permission) if access.permission else None,
                "api_keys": access.api_keys,
                "description": access.describe(),
            }
            for operations in paths.values():
                for operation in operations.values():
                    operation[ACCESS_EXTENSION] = described
        declared = responses_of(self._app.view_functions[rule.endpoint])
        for operations in paths.values():
            for operation in operations.values():
                for status, (description, media_type) in declared.items():
                    answer: dict[str, Any] = {"description": description}
                    if media_type == PROBLEM_RESPONSE_TYPE:
                        answer["content"] = PROBLEM_RESPONSE["content"]
                    elif media_type is not None:
                        answer["content"] = {media_type: {"schema": {"type": "string"}}}
                    operation["responses"].setdefault(str(status), answer)
        return paths, components

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        schema = getattr(converter, "openapi_schema", None)
        if schema is not None:
            parameter["schema"] = dict(schema)
        elif isinstance(converter, IntegerConverter):
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": INT4_MAX}
        elif parameter["schema"] == {"type": "string"}:
            parameter["schema"] = {"type": "string", "minLength": 1}
        return parameter

    def build_querystring_parameters(
        self, model: type
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        parameters, definitions = super().build_querystring_parameters(model)
        preference = self._app.config["QUART_SCHEMA_CONVERSION_PREFERENCE"]
        required = set(model_schema(model, preference=preference).get("required", []))
        for parameter in parameters:
            if parameter["name"] in required:
                parameter["required"] = True
        return parameters, definitions

    def schema(self) -> dict[str, Any]:
        document = super().schema()
        components = document.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components["securitySchemes"] = SECURITY_SCHEMES
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                if method not in _METHODS:
                    continue
                responses = {
                    str(code): value for code, value in operation.get("responses", {}).items()
                }
                responses.setdefault("default", PROBLEM_RESPONSE)
                access = operation.get(ACCESS_EXTENSION, {})
                if access.get("kind") in ("signed_in", "permission"):
                    operation["security"] = SIGNED_IN_SECURITY
                    responses.setdefault("401", UNAUTHENTICATED_RESPONSE)
                    responses.setdefault("403", FORBIDDEN_RESPONSE)
                elif access.get("kind") == "public":
                    operation["security"] = []
                _add_common_problems(path, operation, responses)
                _state_text_rules(operation, components.get("schemas", {}))
                operation["responses"] = dict(sorted(responses.items()))
                if "requestBody" in operation:
                    operation["requestBody"]["required"] = True
        return document


def _state_text_rules(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Say in the schemas of ``operation``'s query parameters and body what the hub refuses
    of any text it is sent: a NUL character (no database stores one; 422)."""
    seen: set[str] = set()
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query":
            _no_nul(parameter.get("schema", {}), schemas, seen)
    for media in operation.get("requestBody", {}).get("content", {}).values():
        _no_nul(media.get("schema", {}), schemas, seen)


def _no_nul(schema: Any, schemas: dict[str, Any], seen: set[str]) -> None:
    """Add :data:`NO_NUL_PATTERN` to every free string of ``schema`` (one without a pattern,
    an enum or a constant), and to the names of every free-form object's properties."""
    if isinstance(schema, list):
        for item in schema:
            _no_nul(item, schemas, seen)
        return
    if not isinstance(schema, dict):
        return
    reference = schema.get("$ref", "")
    if reference.startswith(COMPONENT_PREFIX):
        name = reference.removeprefix(COMPONENT_PREFIX)
        if name not in seen:
            seen.add(name)
            _no_nul(schemas.get(name), schemas, seen)
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "string" in kinds and not {"pattern", "enum", "const"} & set(schema):
        schema["pattern"] = NO_NUL_PATTERN
    if "object" in kinds and schema.get("additionalProperties") is not False:
        if schema.get("additionalProperties", True) is True:
            schema["additionalProperties"] = {"$ref": COMPONENT_PREFIX + ANY_TEXT_JSON}
            schemas.setdefault(ANY_TEXT_JSON, ANY_TEXT_JSON_SCHEMA)
        names = schema.setdefault("propertyNames", {})
        if isinstance(names, dict) and not {"pattern", "enum", "const"} & set(names):
            names["pattern"] = NO_NUL_PATTERN
    for key in ("properties", "patternProperties"):
        _no_nul(list(schema.get(key, {}).values()), schemas, seen)
    for key in ("items", "additionalProperties", "not", "anyOf", "oneOf", "allOf", "prefixItems"):
        _no_nul(schema.get(key), schemas, seen)


def _add_common_problems(path: str, operation: dict[str, Any], responses: dict[str, Any]) -> None:
    """The problems an operation can answer because of what it is (see the module)."""
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "path" for p in parameters):
        responses.setdefault("404", NOT_FOUND)
    if "requestBody" in operation:
        responses.setdefault("400", BAD_BODY)
        responses.setdefault("413", TOO_LARGE)
        responses.setdefault("415", UNSUPPORTED_TYPE)
    if any(p.get("in") == "query" for p in parameters):
        responses.setdefault("400", UNUSABLE_VALUE)
    if parameters or "requestBody" in operation:
        responses.setdefault("422", VALIDATION_FAILED)
    if path.startswith("/api/"):
        responses.setdefault("429", RATE_LIMITED)
    if path not in NEEDS_NO_STATE:
        responses.setdefault("503", UNAVAILABLE)
