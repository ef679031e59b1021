"""Request validation against Overseerr's own OpenAPI document, as the real server does it.

Overseerr runs ``express-openapi-validator`` (``validateRequests: true``) over
``overseerr-api.yml`` before any route. This module reproduces what clients see from it:

* an unknown path under ``/api/v1`` answers 404 ``{"message": "not found", ...}``; a known
  path with another method answers 405;
* a query parameter whose raw (undecoded) value holds an RFC 3986 reserved character
  (``:/?#[]@!$&'()*+,;=``) answers 400 ``Parameter 'query' must be url encoded. Its value
  may not contain reserved characters.`` — so ``query=Matrix+Reloaded`` (a ``+`` for a
  space) and an unencoded ``tmdb:123`` are refused;
* a missing required parameter, a value of the wrong type or outside its enum, and a JSON
  body that does not match the operation's schema answer 400 with
  ``{"message": "request.query.filter should be ...", "errors": [{"path": ".query.filter",
  "message": "should be ...", "errorCode": "enum.openapi.validation"}]}``.

The document ships with the package (``overseerr-api.json``, the YAML converted to JSON).
Operations are compiled once; validating a request costs a regex match and a few checks.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import unquote

from openapi_schema_validator import OAS30WriteValidator

SPEC_FILE = "overseerr-api.json"
API_PREFIX = "/api/v1"
RESERVED_CHARS = re.compile(r"[:/?#\[\]@!$&'()*+,;=]")
_METHODS = ("get", "put", "post", "delete", "patch")


@functools.cache
def load_spec() -> dict[str, Any]:
    """Overseerr's OpenAPI document (parsed once)."""
    text = resources.files("medianest_overseerr.simulator").joinpath(SPEC_FILE).read_text("utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


def spec_path() -> str:
    """Filesystem path of the packaged OpenAPI document (for tools that read files)."""
    return str(resources.files("medianest_overseerr.simulator").joinpath(SPEC_FILE))


@dataclass
class ValidationFailure(Exception):
    """A request the real server's validator would refuse; ``body`` is its JSON answer."""

    status: int
    body: dict[str, Any]


@dataclass
class Param:
    """One query or path parameter of an operation."""

    name: str
    location: str
    required: bool
    schema: dict[str, Any]
    allow_reserved: bool


@dataclass
class Operation:
    """A compiled operation: its path template, parameters and body schema."""

    method: str
    template: str
    params: list[Param]
    body_schema: dict[str, Any] | None
    body_required: bool
    body_validator: Any = field(default=None, repr=False)


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        target: Any = spec
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _bad_request(errors: list[dict[str, str]], message: str | None = None) -> ValidationFailure:
    if message is None:
        parts = []
        for e in errors:
            where = e["path"]
            if e.get("errorCode", "").startswith("required."):
                where = where.rsplit(".", 1)[0]
            parts.append(
                f"request{where} {e['message']}" if where.startswith(".") else e["message"]
            )
        message = ", ".join(parts)
    return ValidationFailure(400, {"message": message, "errors": errors})


def _error(path: str, message: str, code: str) -> dict[str, str]:
    return {"path": path, "message": message, "errorCode": f"{code}.openapi.validation"}


def _type_word(schema: dict[str, Any]) -> str:
    return str(schema.get("type", "string"))


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    """Coerce a raw parameter string as ajv's ``coerceTypes`` does; ``ValueError`` if it cannot."""
    kind = schema.get("type")
    if value == "" and schema.get("nullable"):
        return None
    if kind in ("number", "integer"):
        if not re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", value.strip()):
            raise ValueError(kind)
        number = float(value)
        if kind == "integer":
            if not number.is_integer():
                raise ValueError(kind)
            return int(number)
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        if value not in ("true", "false"):
            raise ValueError(kind)
        return value == "true"
    return value


class SpecValidator:
    """Validates incoming requests against the operations of the OpenAPI document."""

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.spec = spec or load_spec()
        self.operations: list[tuple[re.Pattern[str], str, dict[str, Operation]]] = []
        self._compile()

    def _compile(self) -> None:
        static: list[tuple[re.Pattern[str], str, dict[str, Operation]]] = []
        dynamic: list[tuple[re.Pattern[str], str, dict[str, Operation]]] = []
        for template, item in self.spec["paths"].items():
            shared = [_resolve(self.spec, p) for p in item.get("parameters", [])]
            ops: dict[str, Operation] = {}
            for method in _METHODS:
                op = item.get(method)
                if op is None:
                    continue
                params = [
                    Param(
                        name=p["name"],
                        location=p["in"],
                        required=bool(p.get("required")),
                        schema=_resolve(self.spec, p.get("schema", {})),
                        allow_reserved=bool(p.get("allowReserved")),
                    )
                    for p in shared + [_resolve(self.spec, p) for p in op.get("parameters", [])]
                    if p.get("in") in ("query", "path")
                ]
                body = _resolve(self.spec, op.get("requestBody"))
                schema = None
                if isinstance(body, dict):
                    schema = body.get("content", {}).get("application/json", {}).get("schema")
                operation = Operation(
                    method=method.upper(),
                    template=template,
                    params=params,
                    body_schema=schema,
                    body_required=bool(isinstance(body, dict) and body.get("required")),
                )
                if schema is not None:
                    operation.body_validator = OAS30WriteValidator(
                        {**schema, "components": self.spec["components"]}
                    )
                ops[method.upper()] = operation
            pattern = re.compile(
                "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "/?$"
            )
            (dynamic if "{" in template else static).append((pattern, template, ops))
        # Like Express, a literal path segment wins over a parameter (``/request/count``
        # before ``/request/{requestId}``).
        dynamic.sort(key=lambda entry: entry[1].count("{"))
        self.operations = static + dynamic

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        """The operation for ``method`` ``path`` (path without ``/api/v1``) and its path
        parameters; :class:`ValidationFailure` 404/405 when the document has none."""
        for pattern, template, ops in self.operations:
            found = pattern.match(path)
            if found is None:
                continue
            op = ops.get(method.upper())
            if op is None:
                if method.upper() == "HEAD" and "GET" in ops:
                    return ops["GET"], found.groupdict()
                full = API_PREFIX + template
                message = f"{method.upper()} method not allowed"
                raise ValidationFailure(
                    405, {"message": message, "errors": [{"path": full, "message": message}]}
                )
            return op, {k: unquote(v) for k, v in found.groupdict().items()}
        full = API_PREFIX + path
        raise ValidationFailure(
            404, {"message": "not found", "errors": [{"path": full, "message": "not found"}]}
        )

    def validate(
        self,
        op: Operation,
        path_params: dict[str, str],
        raw_query: str,
        query: dict[str, list[str]],
        body: Any,
        has_body: bool,
    ) -> dict[str, Any]:
        """Check parameters and body; returns the coerced parameter values by name.

        Raises :class:`ValidationFailure` (400) with the real validator's error body.
        """
        raw_pairs: dict[str, list[str]] = {}
        for pair in raw_query.split("&") if raw_query else []:
            key, _, value = pair.partition("=")
            raw_pairs.setdefault(key, []).append(value)
        values: dict[str, Any] = {}
        errors: list[dict[str, str]] = []
        for param in op.params:
            if param.location == "query":
                if not param.allow_reserved:
                    for raw in raw_pairs.get(param.name, []):
                        if RESERVED_CHARS.search(raw):
                            message = (
                                f"Parameter '{param.name}' must be url encoded. Its value may "
                                "not contain reserved characters."
                            )
                            raise _bad_request(
                                [{"path": f".query.{param.name}", "message": message}], message
                            )
                present = query.get(param.name)
                raw_value = present[-1] if present else None
                location = "query"
            else:
                raw_value = path_params.get(param.name)
                location = "params"
            where = f".{location}.{param.name}"
            if raw_value is None:
                if param.required:
                    errors.append(
                        {
                            "path": where,
                            "message": f"should have required property '{param.name}'",
                            "errorCode": "required.openapi.validation",
                        }
                    )
                elif "default" in param.schema:
                    values[param.name] = param.schema["default"]
                continue
            try:
                value = _coerce(raw_value, param.schema)
            except ValueError:
                errors.append(_error(where, f"should be {_type_word(param.schema)}", "type"))
                continue
            enum = param.schema.get("enum")
            if enum is not None and value not in enum and value is not None:
                allowed = ", ".join(str(v) for v in enum)
                errors.append(
                    _error(
                        where, f"should be equal to one of the allowed values: {allowed}", "enum"
                    )
                )
                continue
            minimum = param.schema.get("minimum")
            if minimum is not None and isinstance(value, (int, float)) and value < minimum:
                errors.append(_error(where, f"should be >= {minimum}", "minimum"))
                continue
            values[param.name] = value
        if errors:
            raise _bad_request(errors)
        if op.body_schema is not None:
            if not has_body:
                if op.body_required:
                    raise _bad_request(
                        [
                            {
                                "path": ".body",
                                "message": "request.body should be object",
                                "errorCode": "type.openapi.validation",
                            }
                        ],
                        "request.body should be object",
                    )
            else:
                self._validate_body(op, body)
        return values

    def _validate_body(self, op: Operation, body: Any) -> None:
        errors: list[dict[str, str]] = []
        for problem in sorted(op.body_validator.iter_errors(body), key=lambda e: list(e.path)):
            where = ".body" + "".join(
                f".{p}" if isinstance(p, str) else f"[{p}]" for p in problem.absolute_path
            )
            validator = str(problem.validator)
            if validator == "required":
                missing = re.search(r"'([^']+)' is a required property", problem.message)
                name = missing.group(1) if missing else ""
                errors.append(
                    _error(f"{where}.{name}", f"should have required property '{name}'", "required")
                )
            elif validator == "enum":
                allowed = ", ".join(str(v) for v in problem.validator_value)
                errors.append(
                    _error(
                        where, f"should be equal to one of the allowed values: {allowed}", "enum"
                    )
                )
            elif validator == "type":
                errors.append(_error(where, f"should be {problem.validator_value}", "type"))
            elif validator in ("oneOf", "anyOf"):
                errors.append(
                    _error(where, f"should match exactly one schema in {validator}", validator)
                )
            else:
                errors.append(_error(where, problem.message, validator))
        if errors:
            raise _bad_request(errors)
