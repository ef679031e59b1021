"""The OpenAPI document: quart-schema's, completed with what every operation shares.

Each operation carries ``x-medianest-access``, the access its view declares
(``{"kind": "public" | "signed_in" | "permission", "permission": ..., "api_keys": bool,
"description": ...}``; ``api_keys``: whether an API key may call it),
the security schemes that satisfy it, and the 401/403 problems it can answer.
"""

from __future__ import annotations

from typing import Any

from quart_schema import OpenAPIProvider
from werkzeug.routing import Rule

from medianest.core.web.guard import route_access
from medianest.core.web.session_cookies import ACCESS_COOKIE

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
SIGNED_IN_SECURITY = [{"bearer": []}, {"cookie": []}]
UNAUTHENTICATED_RESPONSE = {
    "description": "No valid sign-in (missing, expired, revoked or invalid credentials)",
    "content": PROBLEM_RESPONSE["content"],
}
FORBIDDEN_RESPONSE = {
    "description": "A permission is missing (named in `permission`), or the CSRF header",
    "content": PROBLEM_RESPONSE["content"],
}


class HubOpenAPIProvider(OpenAPIProvider):
    """Adds the Problem schema as every operation's default response, marks request bodies
    as required (an empty body is refused with 400), and describes each operation's access."""

    def build_paths(self, rule: Rule) -> tuple[dict, dict]:
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
        return paths, components

    def schema(self) -> dict[str, Any]:
        document = super().schema()
        components = document.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components["securitySchemes"] = SECURITY_SCHEMES
        for operations in document.get("paths", {}).values():
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
                operation["responses"] = responses
                if "requestBody" in operation:
                    operation["requestBody"]["required"] = True
        return document
