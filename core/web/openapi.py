"""The OpenAPI document: quart-schema's, completed with what every operation shares."""

from __future__ import annotations

from typing import Any

from quart_schema import OpenAPIProvider

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
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


class HubOpenAPIProvider(OpenAPIProvider):
    """Adds the Problem schema as every operation's default response, and marks request
    bodies as required (an empty body is refused with 400)."""

    def schema(self) -> dict[str, Any]:
        document = super().schema()
        components = document.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for operations in document.get("paths", {}).values():
            for method, operation in operations.items():
                if method not in _METHODS:
                    continue
                responses = {
                    str(code): value for code, value in operation.get("responses", {}).items()
                }
                responses.setdefault("default", PROBLEM_RESPONSE)
                operation["responses"] = responses
                if "requestBody" in operation:
                    operation["requestBody"]["required"] = True
        return document
