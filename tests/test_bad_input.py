"""Input the hub cannot store or encode is refused with a 4xx naming what was wrong, never a
500: integer ids beyond their column's range, cursors carrying such ids, JSON nested without
end, and strings holding a lone UTF-16 surrogate. Problems from plugin blueprints carry the
request id like core's own.

Routes that reach the database run on SQLite (embedded) and on PostgreSQL + Redis (scaled):
PostgreSQL refuses an ``integer`` parameter from 2^31, SQLite any integer from 2^63.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from medianest.core.db.models import SyncRun
from medianest.sdk import utcnow
from medianest.sdk.errors import InvalidInputError
from medianest.sdk.models import decode_cursor, encode_cursor
from tests.admin_testing import admin_hub, make_user, with_session
from tests.security_testing import PROBLEM

JSON = {"Content-Type": "application/json"}
OUT_OF_RANGE = ("2147483648", "9223372036854775808", "1" + "0" * 30, "9" * 5000)
ID_ROUTES = [
    ("delete", "/api/v1/me/api-keys/{}", "key_id"),
    ("get", "/api/v1/users/{}", "user_id"),
    ("get", "/api/v1/users/{}/api-keys", "user_id"),
    ("delete", "/api/v1/users/1/api-keys/{}", "key_id"),
]
BODY_ROUTES = [
    ("post", "/api/v1/me/api-keys"),
    ("patch", "/api/v1/users/1"),
    ("post", "/api/v1/auth/providers/local/sign-in"),
    ("post", "/api/v1/auth/refresh"),
    ("put", "/api/v1/flags/anything"),
]


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator:
    async with admin_hub(medianest_hub, mode) as hub:
        yield hub


async def admin(running):
    caller, _ = await with_session(running, await make_user("root", role="admin"))
    return caller


async def problem_of(response, status: int) -> dict:
    assert response.status_code == status, await response.get_data()
    assert response.content_type == PROBLEM
    return await response.get_json()


# integer ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize(("method", "path", "name"), ID_ROUTES)
async def test_an_id_beyond_its_column_is_not_found_naming_the_parameter(
    running, method, path, name, value
) -> None:
    caller = await admin(running)
    response = await getattr(running.client, method)(path.format(value), headers=caller.headers)
    body = await problem_of(response, 404)
    assert body["code"] == "not_found" and name in body["detail"]
    assert body["errors"] == [
        {"field": name, "message": body["errors"][0]["message"], "in": "path"}
    ]


async def test_an_out_of_range_id_is_still_401_for_the_anonymous(running) -> None:
    response = await running.client.get(f"/api/v1/users/{OUT_OF_RANGE[1]}")
    assert (await problem_of(response, 401))["code"] == "authentication_failed"


async def test_ids_within_range_still_reach_the_view(running) -> None:
    caller = await admin(running)
    status, user = await caller.get("/api/v1/users/2147483647")
    assert status == 404 and "2147483647" in user["detail"]
    status, user = await caller.get("/api/v1/users/1")
    assert status == 200 and user["username"] == "root"


async def test_sync_run_ids_range_over_their_64_bit_column(running) -> None:
    caller = await admin(running)
    now = utcnow()
    run = await SyncRun.create(
        source="plex:home", kind="full", trigger="api", created_at=now, heartbeat_at=now
    )
    assert (await caller.get(f"/api/v1/sync/runs/{run.id}"))[0] == 200
    status, body = await caller.get("/api/v1/sync/runs/4294967296")
    assert status == 404 and "no sync run" in body["detail"]
    status, body = await caller.get("/api/v1/sync/runs/9223372036854775808")
    assert status == 404 and body["errors"][0]["field"] == "run_id"


@pytest.mark.parametrize(
    ("path", "position"),
    [
        *(
            (path, position)
            for path in ("/api/v1/users", "/api/v1/me/api-keys")
            for position in (2**31, 2**63, -1)
        ),
        ("/api/v1/audit", 2**63),
        ("/api/v1/audit", 10**30),
    ],
)
async def test_a_cursor_beyond_the_id_column_is_refused_naming_it(running, path, position) -> None:
    caller = await admin(running)
    cursor = encode_cursor({"id": position})
    response = await running.client.get(f"{path}?cursor={cursor}", headers=caller.headers)
    body = await problem_of(response, 400)
    assert body["errors"][0]["field"] == "cursor"


# JSON bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"[" * 100_000, b'{"a":' * 100_000, b'{"name": ' + b"[" * 65 + b"]" * 65 + b"}"]
)
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_json_nested_without_end_is_a_bad_request(running, method, path, body) -> None:
    caller = await admin(running)
    response = await getattr(running.client, method)(path, data=body, headers=caller.headers | JSON)
    problem = await problem_of(response, 400)
    assert problem["errors"][0]["field"] == "body" and "nested" in problem["detail"]


async def test_json_nested_a_few_levels_is_judged_by_its_schema(running) -> None:
    caller = await admin(running)
    body = b'{"name": ' + b"[" * 60 + b"]" * 60 + b', "permissions": []}'
    response = await running.client.post(
        "/api/v1/me/api-keys", data=body, headers=caller.headers | JSON
    )
    assert (await problem_of(response, 422))["errors"][0]["field"] == "name"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"credentials": {"username": "\\ud800", "password": "x"}}', "credentials.username"),
        (b'{"credentials": {"username": "ann", "password": "\\udfff"}}', "credentials.password"),
        (b'{"credentials": {"\\ud800": "ann"}}', "credentials.\ufffd"),
    ],
)
async def test_a_lone_surrogate_in_a_sign_in_is_refused_naming_the_field(
    running, body, field
) -> None:
    response = await running.client.post(
        "/api/v1/auth/providers/local/sign-in", data=body, headers=JSON
    )
    problem = await problem_of(response, 422)
    assert problem["errors"][0]["field"] == field and problem["errors"][0]["in"] == "body"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/v1/me/api-keys", b'{"name": "k\\udc00", "permissions": []}', "name"),
        ("patch", "/api/v1/users/1", b'{"permissions": ["search", "\\ud83d"]}', "permissions.1"),
        ("post", "/api/v1/auth/refresh", b'{"refresh_token": "\\ud800"}', "refresh_token"),
    ],
)
async def test_a_lone_surrogate_anywhere_in_a_body_is_refused_naming_the_field(
    running, method, path, body, field
) -> None:
    caller = await admin(running)
    response = await getattr(running.client, method)(path, data=body, headers=caller.headers | JSON)
    problem = await problem_of(response, 422)
    assert problem["errors"][0]["field"] == field


async def test_surrogate_pairs_are_text_and_pass(running) -> None:
    caller = await admin(running)
    body = b'{"name": "keys \\ud83d\\udd11", "permissions": ["search"]}'
    response = await running.client.post(
        "/api/v1/me/api-keys", data=body, headers=caller.headers | JSON
    )
    assert response.status_code == 201 and (await response.get_json())["name"] == "keys \U0001f511"


@pytest.mark.parametrize("state", [b"[" * 100_000, b'{"a": "\\ud800"}', b'{"a": ' * 5000])
def test_cursors_nested_without_end_or_not_text_are_invalid_input(state) -> None:
    cursor = base64.urlsafe_b64encode(state).decode()
    with pytest.raises(InvalidInputError) as refused:
        decode_cursor(cursor, field="handle")
    assert refused.value.field == "handle"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v1/auth/providers/local/sign-in",
            b'{"credentials": {"username": "ann\\u0000", "password": "x"}}',
            "credentials.username",
        ),
        ("/api/v1/me/api-keys", b'{"name": "k\\u0000", "permissions": []}', "name"),
        ("/api/v1/auth/sign-out", b'{"refresh_token": "\\u0000"}', "refresh_token"),
    ],
)
async def test_a_nul_character_in_a_body_is_refused_naming_the_field(
    running, path, body, field
) -> None:
    caller = await admin(running)
    response = await running.client.post(path, data=body, headers=caller.headers | JSON)
    problem = await problem_of(response, 422)
    assert problem["errors"][0]["field"] == field and "NUL" in problem["detail"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/api/v1/users?q=ann%00", "q"),
        ("/api/v1/audit?actor=ann%00", "actor"),
        ("/api/v1/audit?action=user.%00", "action"),
        ("/api/v1/sync/runs?source=plex%00", "source"),
        ("/api/v1/search?q=%00", "q"),
        ("/api/v1/users?%00=1", "\ufffd"),
    ],
)
async def test_a_query_parameter_that_is_not_text_is_refused_naming_it(
    running, query, field
) -> None:
    caller = await admin(running)
    response = await running.client.get(query, headers=caller.headers)
    problem = await problem_of(response, 422)
    assert problem["errors"] == [
        {"field": field, "message": "must be UTF-8 text without NUL characters", "in": "query"}
    ]


# problems from plugin blueprints -------------------------------------------------------------

WEBHOOK_SECRET = "bad-input-webhook-secret-0123"


async def test_problems_from_plugin_blueprints_carry_the_request_id(medianest_hub) -> None:
    from medianest_plex import plugin

    section = {
        "servers": [{"name": "home", "url": "http://127.0.0.1:9", "token": "owner-token"}],
        "webhook_secret": WEBHOOK_SECRET,
    }
    async with medianest_hub.run({"plex": plugin}, plugins={"plex": section}) as running:
        hook = f"/api/v1/plugins/plex/webhook/{WEBHOOK_SECRET}"
        for path, headers, status in (
            (hook, JSON, 400),
            ("/api/v1/plugins/plex/webhook/not-the-secret-at-all", JSON, 404),
            (hook, {**JSON, "X-Request-ID": "trace-1234"}, 400),
        ):
            response = await running.client.post(path, data=b"{}", headers=headers)
            body = await problem_of(response, status)
            assert body["request_id"] == response.headers["X-Request-ID"]
            assert body["code"] and body["detail"]
        assert body["request_id"] == "trace-1234"
