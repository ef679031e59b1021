"""The OpenAPI document and the server agree: what the server enforces is in the document,
what the document forbids is refused (422 naming the parameter), answers without a body carry
no content type, and every error an operation can give is documented as a problem."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from medianest.sdk.access import Permission
from medianest.sdk.models import MediaKind

SETTINGS: dict[str, Any] = {
    "features": {"hello": True},
    "plugins": {"hello": {"accounts": {"ann": "pw-ann"}}},
}
PROBLEM = "application/problem+json"
MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1
"""The largest ids of 32-bit and 64-bit id columns."""


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator:
    async with medianest_hub.run(autoload=True, **SETTINGS, **mode) as hub:
        yield hub


@pytest.fixture
async def document(medianest_hub) -> dict[str, Any]:
    async with medianest_hub.run(autoload=True, **SETTINGS) as running:
        served = await (await running.client.get("/api/v1/openapi.json")).get_json()
    validate(served)
    return served


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in operation["parameters"] if p["name"] == name)


def _body(operation: dict[str, Any]) -> dict[str, Any]:
    return operation["requestBody"]["content"]["application/json"]["schema"]


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional parameter's schema."""
    branches = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    return branches[0]


async def _raw(app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""):
    """Call the ASGI app directly: the status, headers and body exactly as it sends them (a
    test client fills in a content type of its own)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "extensions": {},
    }
    sent: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if not pending:
            await asyncio.Event().wait()  # the client stays connected until the answer
        return pending.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent, "the app answered nothing"
    start = next(m for m in sent if m["type"] == "http.response.start")
    names = {name.decode().lower() for name, _ in start["headers"]}
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], names, data


async def test_a_204_answer_carries_no_content_type_and_no_body(running) -> None:
    json_body = {"Content-Type": "application/json"}
    headers = await running.sign_in()
    status, names, data = await _raw(
        running.app, "POST", "/api/v1/auth/sign-out", headers | json_body, b"{}"
    )
    assert (status, data) == (204, b"")
    assert "content-type" not in names and "content-length" not in names

    other = await running.sign_in()
    sessions = await (await running.client.get("/api/v1/me/sessions", headers=other)).get_json()
    path = f"/api/v1/me/sessions/{sessions['items'][0]['id']}"
    status, names, data = await _raw(running.app, "DELETE", path, other)
    assert (status, data) == (204, b"") and "content-type" not in names


async def test_the_204_answers_are_documented_without_content(document) -> None:
    paths = document["paths"]
    for path, method in (
        ("/api/v1/auth/sign-out", "post"),
        ("/api/v1/me/sessions/{session_id}", "delete"),
    ):
        answer = paths[path][method]["responses"]["204"]
        assert "content" not in answer, f"{method.upper()} {path}"


async def test_metrics_documents_its_prometheus_answer(document) -> None:
    responses = document["paths"]["/metrics"]["get"]["responses"]
    assert set(responses["200"]["content"]) == {"text/plain"}
    assert responses["401"]["content"] == responses["403"]["content"]
    assert set(responses["401"]["content"]) == {PROBLEM}


@pytest.mark.parametrize("collection", ["runs", "sources"])
async def test_posting_to_a_sync_collection_is_405_naming_get(running, collection) -> None:
    admin = await running.sign_in(role="admin")
    response = await running.client.post(f"/api/v1/sync/{collection}", json={}, headers=admin)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"] and "POST" not in response.headers["Allow"]
    assert response.content_type == PROBLEM


async def test_a_sync_source_can_never_be_named_like_a_collection(document) -> None:
    operation = document["paths"]["/api/v1/sync/{source}"]["post"]
    schema = _parameter(operation, "source")["schema"]
    assert schema["not"] == {"enum": ["runs", "sources"]}
    assert "405" in operation["responses"] and "409" in operation["responses"]


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/media/recent", "kind=", "kind"),
        ("/api/v1/library", "kind=", "kind"),
        ("/api/v1/search", "q=film&kind=", "kind"),
        ("/api/v1/media/recent", "source=", "source"),
        ("/api/v1/library", "source=", "source"),
        ("/api/v1/sync/runs", "source=", "source"),
        ("/api/v1/sync/runs", "kind=", "kind"),
        ("/api/v1/audit", "until=0.5", "until"),
        ("/api/v1/audit", "since=1700000000", "since"),
        ("/api/v1/users", "cursor=not%20a%20cursor", "cursor"),
        ("/api/v1/library", "cursor=", "cursor"),
    ],
)
async def test_a_value_the_document_forbids_is_422_naming_it(running, path, query, field) -> None:
    admin = await running.sign_in(role="admin")
    response = await running.client.get(f"{path}?{query}", headers=admin)
    assert response.status_code == 422, await response.get_data(as_text=True)
    problem = await response.get_json()
    assert problem["code"] == "validation_failed"
    assert [item["field"] for item in problem["errors"]] == [field]


async def test_the_document_states_the_constraints_the_server_enforces(document) -> None:
    paths = document["paths"]
    kinds = sorted(kind.value for kind in MediaKind)
    recent = paths["/api/v1/media/recent"]["get"]
    kind = _plain(_parameter(recent, "kind")["schema"])
    assert sorted(kind["items"]["enum"]) == kinds and kind["minItems"] == 1
    assert _plain(_parameter(recent, "source")["schema"])["minItems"] == 1
    for path in ("/api/v1/users", "/api/v1/audit", "/api/v1/sync/runs", "/api/v1/library"):
        operation = paths[path]["get"]
        assert _plain(_parameter(operation, "cursor")["schema"])["pattern"] == "^[A-Za-z0-9_-]+$"
        limit = _parameter(operation, "limit")["schema"]
        assert (limit["minimum"], limit["maximum"]) == (1, 200)
    search = paths["/api/v1/search"]["get"]
    assert _parameter(search, "q")["required"] is True
    assert "pattern" in _plain(_parameter(search, "kind")["schema"])
    names = sorted(str(p) for p in Permission)
    key = _body(paths["/api/v1/me/api-keys"]["post"])["properties"]["permissions"]
    assert key["items"]["enum"] == names
    change = _body(paths["/api/v1/users/{user_id}"]["patch"])
    assert change["minProperties"] == 1
    assert change["properties"]["permissions"]["items"]["enum"] == names
    until = _plain(_parameter(paths["/api/v1/audit"]["get"], "until")["schema"])
    assert until["format"] == "date-time"


async def test_integer_path_ids_are_documented_in_range(document) -> None:
    ids = [
        parameter["schema"]
        for operations in document["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and parameter["schema"].get("type") == "integer"
    ]
    assert len(ids) >= 5
    assert all(s["minimum"] == 1 and s["maximum"] in (MAX_ID, MAX_BIG_ID) for s in ids)
    run = _parameter(paths_get(document, "/api/v1/sync/runs/{run_id}"), "run_id")["schema"]
    assert run["maximum"] == MAX_BIG_ID  # sync runs are numbered in a 64-bit column


def paths_get(document: dict, path: str) -> dict:
    return document["paths"][path]["get"]


async def test_every_operation_documents_its_errors_as_problems(document) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            name = f"{method.upper()} {path}"
            expected = set()
            if operation["x-medianest-access"]["kind"] != "public":
                expected |= {"401", "403"}
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                expected.add("404")
            if operation.get("parameters") or "requestBody" in operation:
                expected.add("422")
            if "requestBody" in operation:
                expected |= {"400", "413", "415"}
            if path.startswith("/api/"):
                expected.add("429")
            if not path.startswith("/health/"):
                expected.add("503")
            assert expected <= set(responses), f"{name} lacks {expected - set(responses)}"
            for status in expected:
                assert set(responses[status]["content"]) == {PROBLEM}, f"{name} {status}"
            for status in {"429", "503"} & expected:
                assert "Retry-After" in responses[status]["headers"], f"{name} {status}"


async def test_an_integral_json_number_is_an_integer(running) -> None:
    admin = await running.sign_in(role="admin")
    as_float = await running.client.patch(
        "/api/v1/media/hello:main/1", json={"year": 1999.0}, headers=admin
    )
    as_text = await running.client.patch(
        "/api/v1/media/hello:main/1", json={"year": "1999"}, headers=admin
    )
    assert as_float.status_code != 422, await as_float.get_data(as_text=True)
    assert as_text.status_code == 422
    assert (await as_text.get_json())["errors"][0]["field"] == "year"


async def test_a_user_change_refuses_null_instead_of_leaving_a_field_out(running) -> None:
    admin = await running.sign_in(role="admin")
    response = await running.client.patch(
        "/api/v1/users/1", json={"role": None, "is_active": True}, headers=admin
    )
    assert response.status_code == 422
    assert (await response.get_json())["code"] == "validation_failed"


def _request_texts(node: Any, components: dict[str, Any], seen: set[str]) -> list[dict]:
    """Every string schema and every property-name schema inside a request schema."""
    found: list[dict] = []
    if isinstance(node, list):
        for item in node:
            found += _request_texts(item, components, seen)
    elif isinstance(node, dict):
        name = node.get("$ref", "").rsplit("/", 1)[-1]
        if name and name not in seen:
            seen.add(name)
            found += _request_texts(components[name], components, seen)
        if node.get("type") == "string" and "enum" not in node:
            found.append(node)
        if node.get("type") == "object" and node.get("additionalProperties") is not False:
            found.append(node["propertyNames"])
        for key, value in node.items():
            if key not in ("propertyNames", "$ref") and isinstance(value, dict | list):
                found += _request_texts(value, components, seen)
    return found


async def test_the_document_says_text_with_a_nul_is_refused(document) -> None:
    components = document["components"]["schemas"]
    texts = []
    for operations in document["paths"].values():
        for operation in operations.values():
            queries = [p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"]
            body = operation.get("requestBody", {}).get("content", {})
            texts += _request_texts([*queries, *body.values()], components, set())
    assert len(texts) > 20
    for text in texts:
        assert not re.fullmatch(text["pattern"], "a\x00b"), text


async def test_a_nul_anywhere_in_a_body_or_query_is_422_naming_it(running) -> None:
    headers = await running.sign_in(role="admin")
    key = await running.client.post(
        "/api/v1/me/api-keys", json={"name": "a\x00", "permissions": ["search"]}, headers=headers
    )
    query = await running.client.get("/api/v1/audit?action=a%00", headers=headers)
    for response, field in ((key, "name"), (query, "action")):
        assert response.status_code == 422
        problem = await response.get_json()
        assert [e["field"] for e in problem["errors"]] == [field]
