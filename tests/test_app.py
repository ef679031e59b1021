"""The web app in both runtime modes: errors, request ids, headers, health, metrics, OpenAPI."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from medianest.sdk import Permission, public

PROBLEM = "application/problem+json"


async def test_live_and_ready_in_each_mode(medianest_hub, mode) -> None:
    async with medianest_hub.run(**mode) as running:
        live = await running.client.get("/health/live")
        assert live.status_code == 200 and await live.get_json() == {"status": "ok"}
        ready = await running.client.get("/health/ready")
        body = await ready.get_json()
        assert ready.status_code == 200, body
        names = [c["name"] for c in body["components"]]
        expected = {"embedded": ["database"], "scaled": ["database", "redis"]}
        assert names[: len(expected[running.hub.mode])] == expected[running.hub.mode]
        assert body["mode"] == ("scaled" if mode else "embedded")


async def test_unknown_route_is_problem_json(medianest_hub) -> None:
    async with medianest_hub.run() as running:
        response = await running.client.get("/api/v1/nothing-here")
        assert response.status_code == 404
        assert response.content_type == PROBLEM
        body = await response.get_json()
        assert body["status"] == 404 and body["type"] == "urn:medianest:problem:not_found"
        assert body["request_id"] == response.headers["X-Request-ID"]


async def test_wrong_method_is_405_with_allow(medianest_hub) -> None:
    async with medianest_hub.run() as running:
        response = await running.client.delete("/health/live")
        assert response.status_code == 405
        assert response.content_type == PROBLEM
        assert "GET" in response.headers["Allow"]


async def test_request_id_is_honoured_or_made(medianest_hub) -> None:
    async with medianest_hub.run() as running:
        given = await running.client.get("/health/live", headers={"X-Request-ID": "abc-123"})
        assert given.headers["X-Request-ID"] == "abc-123"
        hostile = await running.client.get("/health/live", headers={"X-Request-ID": "a b<script>"})
        assert hostile.headers["X-Request-ID"] != "a b<script>"
        assert len(hostile.headers["X-Request-ID"]) == 32


async def test_security_headers(medianest_hub) -> None:
    async with medianest_hub.run() as running:
        admin = await running.sign_in(role="admin")
        response = await running.client.get("/api/v1/plugins", headers=admin)
        assert response.status_code == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in response.headers
        secure = await running.client.get("/health/live", scheme="https")
        assert "max-age=" in secure.headers["Strict-Transport-Security"]


@pytest.mark.parametrize(
    ("body", "headers", "detail"),
    [
        (b"{not json", {"Content-Type": "application/json"}, "not valid JSON"),
        (b"\xff\xfe{}", {"Content-Type": "application/json"}, "not UTF-8"),
        (b"", {"Content-Type": "application/json"}, "empty"),
        (
            b"name=Ann",
            {"Content-Type": "application/x-www-form-urlencoded"},
            "expected a JSON body",
        ),
    ],
)
async def test_bad_bodies_are_400_saying_why(medianest_hub, body, headers, detail) -> None:
    async with medianest_hub.run(features={"hello": True}, autoload=True) as running:
        headers |= await running.sign_in()
        response = await running.client.post(
            "/api/v1/plugins/hello/greetings", data=body, headers=headers
        )
        assert response.status_code == 400
        assert response.content_type == PROBLEM
        assert detail in (await response.get_json())["detail"]


async def test_oversized_body_is_413(medianest_hub) -> None:
    async with medianest_hub.run(
        features={"hello": True}, autoload=True, server={"max_body_bytes": 2048}
    ) as running:
        response = await running.client.post(
            "/api/v1/plugins/hello/greetings",
            data=b"{" + b" " * 5000 + b"}",
            headers={"Content-Type": "application/json"} | await running.sign_in(),
        )
        assert response.status_code == 413
        assert response.content_type == PROBLEM


async def test_crash_is_500_without_internals(medianest_hub) -> None:
    async with medianest_hub.run() as running:

        @running.app.get("/boom")
        @public
        async def boom() -> None:
            raise RuntimeError("secret internals")

        response = await running.client.get("/boom")
        assert response.status_code == 500
        body = await response.get_json()
        assert "secret internals" not in str(body)
        assert body["code"] == "internal_error" and body["request_id"]


async def test_metrics_count_requests_by_route(medianest_hub) -> None:
    async with medianest_hub.run() as running:
        await running.client.get("/health/live")
        scraper = await running.sign_in(permissions=[Permission.VIEW_METRICS])
        text = await (await running.client.get("/metrics", headers=scraper)).get_data(as_text=True)
        labels = 'method="GET",route="/health/live",status="200"'
        assert f"medianest_http_request_duration_seconds_count{{{labels}}} 1.0" in text
        assert "_created" not in text


async def test_plugins_endpoint_lists_installed_plugins(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True) as running:
        admin = await running.sign_in(role="admin")
        body = await (await running.client.get("/api/v1/plugins", headers=admin)).get_json()
        by_key = {p["key"]: p for p in body["items"]}
        assert body["total"] == len(body["items"])
        assert by_key["hello"]["enabled"] is False and by_key["hello"]["version"] == "1.2.0"
        assert by_key["plex"]["bundled"] is True


async def test_openapi_document_is_valid(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, features={"hello": True}) as running:
        response = await running.client.get("/api/v1/openapi.json")
        document = await response.get_json()
        validate(document)
        assert "/health/ready" in document["paths"] and "/api/v1/plugins" in document["paths"]


async def test_job_runs_are_counted_in_metrics(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, features={"hello": True}) as running:
        await running.hub.jobs.enqueue("hello.count_visit", key="metrics")
        await running.hub.jobs.join()
        admin = await running.sign_in(role="admin")
        text = await (await running.client.get("/metrics", headers=admin)).get_data(as_text=True)
        assert 'medianest_jobs_total{job="hello.count_visit",outcome="ok"} 1.0' in text
        assert 'medianest_job_duration_seconds_count{job="hello.count_visit"} 1.0' in text


async def test_providers_are_closed_once_when_the_hub_stops(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, features={"hello": True}) as running:
        library = running.hub.registry.get("media_sources", "hello:main")
        assert library.closed == 0
    assert library.closed == 1


async def test_failing_source_makes_ready_503_naming_it(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, features={"hello": True}) as running:
        running.hub.registry.get("media_sources", "hello:main").healthy = False
        response = await running.client.get("/health/ready")
        body = await response.get_json()
        assert response.status_code == 503
        assert [c["name"] for c in body["components"] if not c["ok"]] == ["hello:main"]


async def test_page_assets_are_served_with_etags_and_nothing_else(medianest_hub) -> None:
    async with medianest_hub.run() as running:
        script = await running.client.get("/assets/signin.js")
        assert script.status_code == 200
        assert script.content_type.startswith("text/javascript")
        again = await running.client.get(
            "/assets/signin.js", headers={"If-None-Match": script.headers["ETag"]}
        )
        assert again.status_code == 304
        for name in ("../app.py", "nope.js", "signin.html"):
            assert (await running.client.get(f"/assets/{name}")).status_code == 404
