"""How the pages travel over real HTTP: text compressed with brotli or gzip (never for clients
that do not ask, never a few bytes or an empty answer), and the interactive API documentation
served offline."""

from __future__ import annotations

import gzip

import brotli
import httpx
from playwright.sync_api import expect

from tests.web.browser import WebHub, check_accessibility, screenshot


def test_text_is_compressed_as_the_client_asks(web: WebHub) -> None:
    with httpx.Client(base_url=web.url) as client:
        plain = client.get("/assets/app.css", headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers
        for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
            headers = {"Accept-Encoding": encoding}
            with client.stream("GET", "/assets/app.css", headers=headers) as response:
                raw = b"".join(response.iter_raw())
            assert response.headers["Content-Encoding"] == encoding
            assert "Accept-Encoding" in response.headers["Vary"]
            assert len(raw) < len(plain.content) / 2
            assert decode(raw) == plain.content
        api = client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "br"})
        assert api.headers["Content-Encoding"] == "br"
        assert int(api.headers["Content-Length"]) < len(api.content)
        small = client.get("/health/live", headers={"Accept-Encoding": "br"})
        assert "Content-Encoding" not in small.headers, "a few bytes go as they are"
        assert small.json()["status"] == "ok"
        empty = client.options("/api/v1/me", headers={"Accept-Encoding": "br"})
        assert "Content-Encoding" not in empty.headers and empty.content == b""


def test_the_api_documentation_works_offline(web: WebHub) -> None:
    page = web.page_as(web.person("admin"))
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith(web.url) and not request.url.startswith("data:")
            else None
        ),
    )
    page.goto("/api-docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("MediaNest")
    expect(page.locator(".opblock-tag").first).to_be_visible()
    assert outside == [], f"requests left the hub: {outside}"
    check_accessibility(page, "API documentation")
    screenshot(page, "api-docs")
    page.locator("#operations-sessions-get_me .opblock-summary-control").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    status = page.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")
    expect(page.locator(".live-responses-table tbody .response-col_description")).to_contain_text(
        "authenticated_by"
    )
