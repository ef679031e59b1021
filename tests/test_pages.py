"""The pages without a browser: where sign-in leads, assets, caching, languages, escaping and
the security headers, in both runtime modes where the database is involved."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from medianest.core.web.pages import i18n
from medianest.core.web.pages.shell import safe_next
from tests.sync.fake_source import FakeLibrary, FakePlugin, movie
from tests.sync.sync_testing import sync

ROOT = Path(__file__).resolve().parents[1]
HELLO = {"features": {"hello": True}, "plugins": {"hello": {"accounts": {"ann": "pw-ann"}}}}
HOSTILE = "<script>alert('x')</script> \"quoted\" \u202eevil\u202c & more"


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil",
        "/ok\r\nSet-Cookie: x",
        "/sign-in?next=/x",
        "/%0d\n",
        "/" + "a" * 2001,
    ],
)
def test_only_paths_of_the_hub_are_followed_after_sign_in(target: str | None) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/", "/account", "/search?q=a%20b&kind=movie", "/a//b"])
def test_paths_of_the_hub_are_followed_after_sign_in(target: str) -> None:
    assert safe_next(target) == target


async def test_signed_out_visits_go_to_sign_in_and_back(medianest_hub, mode) -> None:
    async with medianest_hub.run(autoload=True, **HELLO, **mode) as running:
        for path, location in (
            ("/", "/sign-in"),
            ("/account/sessions", "/sign-in?next=/account/sessions"),
            ("/account?tab=1&x=%2F", "/sign-in?next=/account%3Ftab%3D1%26x%3D%252F"),
        ):
            response = await running.client.get(path)
            assert response.status_code == 303 and response.headers["Location"] == location
        user = await running.sign_in()
        page = await running.client.get("/", headers=user)
        assert page.status_code == 200
        onward = await running.client.get("/sign-in?next=/account", headers=user)
        assert onward.headers["Location"] == "/account"
        away = await running.client.get("/sign-in?next=//evil.example", headers=user)
        assert away.headers["Location"] == "/"


async def test_the_sign_in_page_carries_only_a_safe_next(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        page = await running.client.get("/sign-in?next=/x%22%3E%3Cscript%3E")
        html = await page.get_data(as_text=True)
        assert 'data-next="/x&#34;&gt;&lt;script&gt;"' in html
        foreign = await running.client.get("/sign-in?next=https://evil.example")
        assert 'data-next="/"' in await foreign.get_data(as_text=True)


async def test_pages_link_fingerprinted_assets_cached_for_a_year(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        page = await (await running.client.get("/sign-in")).get_data(as_text=True)
        links = re.findall(r'(?:href|src)="(/assets/[^"]+)"', page)
        assert links and all(re.search(r"\.[0-9a-f]{12}\.(js|css|svg)$", link) for link in links)
        for link in links:
            response = await running.client.get(link)
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            again = await running.client.get(
                link, headers={"If-None-Match": response.headers["ETag"]}
            )
            assert again.status_code == 304
        app = next(link for link in links if re.search(r"/app\.[0-9a-f]{12}\.js$", link))
        script = await (await running.client.get(app)).get_data(as_text=True)
        assert re.search(r'from "\./net\.[0-9a-f]{12}\.js"', script), "imports fingerprinted"
        plain = await running.client.get("/assets/app.js")
        assert plain.headers["Cache-Control"] == "no-cache"
        stale = await running.client.get("/assets/app.000000000000.js")
        assert stale.status_code == 404


async def test_pages_answer_304_to_a_browser_that_has_them(medianest_hub, mode) -> None:
    async with medianest_hub.run(autoload=True, **HELLO, **mode) as running:
        user = await running.sign_in()
        first = await running.client.get("/account", headers=user)
        etag = first.headers["ETag"]
        again = await running.client.get("/account", headers={**user, "If-None-Match": etag})
        assert again.status_code == 304
        policy = again.headers["Content-Security-Policy"]
        assert policy == first.headers["Content-Security-Policy"], "a 304 updates the cached page"
        assert first.headers["Cache-Control"] == "private, no-cache"
        assert {"Cookie", "Accept-Language"} <= set(
            first.headers["Vary"].replace(" ", "").split(",")
        )


async def test_pages_forbid_inline_scripts(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        user = await running.sign_in(role="admin")
        for path in (
            "/",
            "/account",
            "/account/sessions",
            "/account/api-keys",
            "/api-docs",
            "/plugins/hello/",
        ):
            response = await running.client.get(path, headers=user)
            assert response.status_code == 200, path
            policy = response.headers["Content-Security-Policy"]
            script_src = re.search(r"script-src ([^;]+)", policy).group(1)
            assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
            html = await response.get_data(as_text=True)
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
            assert not re.search(r"\son[a-z]+=", html), f"inline handler on {path}"


async def test_hostile_titles_are_escaped_and_isolated(medianest_hub, mode) -> None:
    library = FakeLibrary("shelf", 3)
    library.items[0] = movie("shelf", 1, title=HOSTILE).model_copy(
        update={"added_at": datetime(2030, 1, 1, tzinfo=UTC)}
    )
    async with medianest_hub.run(
        {"shelf": FakePlugin(library)}, autoload=True, **HELLO, **mode
    ) as running:
        with running.hub.database.activate():
            await sync(running.hub, "shelf")
        user = await running.sign_in(role="admin")
        html = await (await running.client.get("/", headers=user)).get_data(as_text=True)
        assert "<script>alert" not in html
        assert (
            "<bdi>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &#34;quoted&#34; "
            "\u202eevil\u202c &amp; more</bdi>"
        ) in html


def test_every_message_of_the_pages_is_translated_into_french() -> None:
    with (i18n.LOCALE_DIR / "fr/LC_MESSAGES/messages.po").open("rb") as source:
        catalogue = read_po(source)
    translated = {m.id: m.string for m in catalogue if m.id}
    method_map = [("core/**.py", "python"), ("core/web/templates/**.html", "jinja2")]
    options = {"core/web/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    missing = set()
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    for _name, _line, message, _comments, *_ in extract_from_dir(
        str(ROOT), method_map, options, keywords=keywords
    ):
        ids = message if isinstance(message, tuple) else (message,)
        key = ids if len(ids) > 1 else ids[0]
        found = translated.get(key)
        if not (all(found) if isinstance(found, tuple) else found):
            missing.add(ids[0])
    assert not missing, f"messages without a French translation: {sorted(missing)}"


async def test_the_language_follows_the_person_then_the_browser(medianest_hub, mode) -> None:
    async with medianest_hub.run(autoload=True, **HELLO, **mode) as running:
        user = await running.sign_in()
        french = await running.client.get(
            "/account", headers={**user, "Accept-Language": "fr-CA,en;q=0.5"}
        )
        html = await french.get_data(as_text=True)
        assert '<html lang="fr"' in html and "Profil" in html
        german = await running.client.get("/account", headers={**user, "Accept-Language": "de"})
        assert '<html lang="en"' in await german.get_data(as_text=True)
        anonymous = await running.client.post("/language", form={"locale": "fr", "next": "/x"})
        assert anonymous.status_code == 303 and anonymous.headers["Location"] == "/x"
        assert "medianest_locale=fr" in anonymous.headers["Set-Cookie"]
        running.client.cookie_jar.clear()  # the person's choice must hold in a new browser
        chosen = await running.client.post(
            "/language", form={"locale": "fr", "next": "/account"}, headers=user
        )
        assert chosen.status_code == 303
        running.client.cookie_jar.clear()
        for browser_asks in ("en", "de", ""):
            page = await running.client.get(
                "/account", headers={**user, "Accept-Language": browser_asks}
            )
            html = await page.get_data(as_text=True)
            assert '<html lang="fr"' in html, "the person's choice, in any browser"
            assert '<option value="fr" lang="fr" selected>' in html
        await running.client.post("/language", form={"locale": ""}, headers=user)
        back = await running.client.get("/account", headers={**user, "Accept-Language": "en"})
        assert '<html lang="en"' in await back.get_data(as_text=True)
        bogus = await running.client.post("/language", form={"locale": "xx"}, headers=user)
        assert bogus.status_code == 303


async def test_numbers_and_dates_follow_the_locale(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        when = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
        async with running.app.test_request_context("/", headers={"Accept-Language": "fr"}):
            from quart import g

            g.locale = "fr"
            assert i18n.format_number(12345.5) == "12\u202f345,5"
            assert i18n.format_day(when) == "4 mars 2026"
            g.locale = "en"
            assert i18n.format_number(12345.5) == "12,345.5"
            assert i18n.format_day(when) == "Mar 4, 2026"


def test_every_post_form_carries_the_csrf_token() -> None:
    templates = [
        *(ROOT / "core/web/templates").rglob("*.html"),
        *(ROOT / "tests/fixtures/medianest-hello/medianest_hello/templates").rglob("*.html"),
    ]
    unprotected = []
    for path in templates:
        for form in re.findall(r"<form\b[^>]*>.*?</form>", path.read_text(), flags=re.S):
            opening = form.split(">", 1)[0]
            if 'method="post"' not in opening or "data-csrf-exempt=" in opening:
                continue
            if 'name="csrf_token" value="{{ csrf_token }}"' not in form:
                unprotected.append(f"{path.name}: {opening[:80]}")
    assert not unprotected, f"POST forms without the CSRF token: {unprotected}"


async def test_a_browser_asking_for_no_page_gets_a_page_programs_get_a_problem(
    medianest_hub,
) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        page = await running.client.get("/no-such-page", headers=html)
        assert page.status_code == 404 and page.mimetype == "text/html"
        assert "There is no page at this address." in await page.get_data(as_text=True)
        for path, headers in (("/no-such-page", {}), ("/api/v1/nothing", html)):
            problem = await running.client.get(path, headers=headers)
            assert problem.status_code == 404
            assert problem.mimetype == "application/problem+json", path


async def test_admin_listings_name_a_bad_filter_and_page_through(medianest_hub, mode) -> None:
    async with medianest_hub.run(autoload=True, **HELLO, **mode) as running:
        admin = await running.sign_in(role="admin")
        bad = await running.client.get("/admin/audit?since=yesterday", headers=admin)
        assert bad.status_code == 422
        assert "since" in await bad.get_data(as_text=True)
        bad = await running.client.get("/admin/users?role=emperor", headers=admin)
        assert bad.status_code == 422
        assert "role" in await bad.get_data(as_text=True)
        for number in range(55):
            await running.sign_in(username=f"member-{number:02d}")
        first = await running.client.get("/admin/users?q=member", headers=admin)
        html = await first.get_data(as_text=True)
        assert first.status_code == 200 and html.count("member-") >= 50
        following = re.search(r'href="(/admin/users\?q=member&amp;cursor=[^"]+)"', html)
        assert following, "a link to the next page keeps the filter"
        rest = await running.client.get(following.group(1).replace("&amp;", "&"), headers=admin)
        assert rest.status_code == 200 and "member-54" in await rest.get_data(as_text=True)
