"""Every hook is documented and tested; one ``test_hook_<name>`` per hook, on a real hub."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import sys
from pathlib import Path

import pytest

from medianest.core.db.models import User
from medianest.sdk import DomainEvent, Notification, Recipient, hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugin-hooks.md"
HELLO = {"features": {"hello": True}}


def hook_names() -> list[str]:
    return sorted(
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "medianest_spec")
    )


def signature_heading(name: str) -> str:
    return "## " + name + str(inspect.signature(getattr(hookspecs, name))).replace("'", "")


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_is_documented_under_its_signature(name: str) -> None:
    headings = [line for line in DOCS.read_text().splitlines() if line.startswith("## ")]
    assert signature_heading(name) in headings


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_has_a_test(name: str) -> None:
    module = sys.modules[__name__]
    assert callable(getattr(module, f"test_hook_{name}", None)), f"write test_hook_{name}"


def test_every_documented_hook_exists() -> None:
    documented = re.findall(r"^## (\w+)\(", DOCS.read_text(), flags=re.M)
    assert sorted(documented) == hook_names()


async def test_hook_register_settings(medianest_hub) -> None:
    async with medianest_hub.run(
        autoload=True, **HELLO, plugins={"hello": {"greeting": "hi"}}
    ) as running:
        assert running.hub.host.plugins["hello"].settings.greeting == "hi"


async def test_hook_register_auth_providers(medianest_hub) -> None:
    async with medianest_hub.run(
        autoload=True, **HELLO, plugins={"hello": {"accounts": {"ann": "pw"}}}
    ) as running:
        provider = running.hub.registry.get("auth_providers", "hello")
        identity = await provider.authenticate({"username": "ann", "password": "pw"})
        assert identity.username == "ann"


async def test_hook_register_media_sources(medianest_hub) -> None:
    async with medianest_hub.run(
        autoload=True, **HELLO, plugins={"hello": {"libraries": ["a", "b"]}}
    ) as running:
        ids = [s.id for s in running.hub.registry.all("media_sources")]
        assert {"hello:a", "hello:b"} <= set(ids)
        response = await running.client.get("/health/ready")
        names = [c["name"] for c in (await response.get_json())["components"]]
        assert {"hello:a", "hello:b"} <= set(names)


async def test_hook_register_request_backends(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        assert running.hub.registry.get("request_backends", "hello:requests")


async def test_hook_register_analytics_sinks(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        await running.hub.emit(DomainEvent(type="media.play", source="hello:main"))
        sink = running.hub.registry.get("analytics_sinks", "hello:sink")
        await running.hub.events.flush()
        assert [e.type for e in sink.events] == ["media.play"]


async def test_hook_register_notifiers(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        user = await running.sign_in(username="ann")
        assert user
        with running.hub.database.activate():
            ann = await User.get(username="ann")
            ann.email = "ann@example.org"
            await ann.save()
        notification = Notification(
            event_type="request.available",
            title="It arrived",
            recipients=(Recipient.user(ann.id), Recipient.for_role("admin")),
        )
        await running.hub.notify(notification)
        await running.hub.jobs.join()
        plain = running.hub.registry.get("notifiers", "hello:notifier")
        email = running.hub.registry.get("notifiers", "hello:notifier-email")
        assert [(t, r.username or r.role, a) for t, r, a in plain.deliveries] == [
            ("It arrived", "ann", None),
            ("It arrived", "admin", None),
        ]
        assert [(t, r.username or r.role, a) for t, r, a in email.deliveries] == [
            ("It arrived", "ann", "ann@example.org"),
            ("It arrived", "admin", None),
        ], "users at their email; a role through the notifier's own channel (no address)"


async def test_hook_register_blueprints(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        anonymous = await running.client.post(
            "/api/v1/plugins/hello/greetings", json={"name": "Ann"}
        )
        assert anonymous.status_code == 401, "the route is declared signed_in"
        user = await running.sign_in(permissions=[])
        response = await running.client.post(
            "/api/v1/plugins/hello/greetings", json={"name": "Ann"}, headers=user
        )
        assert response.status_code == 201
        assert (await response.get_json())["greeting"] == "hello, Ann"
        bad = await running.client.post(
            "/api/v1/plugins/hello/greetings", json={"name": 3}, headers=user
        )
        assert bad.status_code == 400
        assert (await bad.get_json())["errors"][0]["field"] == "name"


async def test_hook_register_pages(medianest_hub) -> None:
    async with medianest_hub.run(
        autoload=True, **HELLO, plugins={"hello": {"greeting": "hi", "broken_pages": True}}
    ) as running:
        anonymous = await running.client.get("/plugins/hello/")
        assert anonymous.status_code == 303
        assert anonymous.headers["Location"] == "/sign-in?next=/plugins/hello/"
        user = await running.sign_in(permissions=["search"])
        page = await running.client.get("/plugins/hello/", headers=user)
        html = await page.get_data(as_text=True)
        assert page.status_code == 200 and "<title>Greetings · MediaNest</title>" in html
        assert "<bdi>hi</bdi>! 0 greetings so far." in html
        assert '<a href="/plugins/hello/"' in html, "its navigation entry"
        script = re.search(r'src="(/plugins/hello/assets/hello\.[0-9a-f]{12}\.js)"', html)
        assert script is not None
        served = await running.client.get(script.group(1))
        assert served.status_code == 200 and "immutable" in served.headers["Cache-Control"]
        refused = await running.client.get("/plugins/hello/audit-only", headers=user)
        assert refused.status_code == 403
        assert "view_audit" in await refused.get_data(as_text=True)
        auditor = await running.sign_in(permissions=["view_audit"])
        allowed = await running.client.get("/plugins/hello/audit-only", headers=auditor)
        assert allowed.status_code == 200
        broken = await running.client.get("/plugins/hello/broken", headers=user)
        text = await broken.get_data(as_text=True)
        assert broken.status_code == 500
        assert "Broken (plugin hello) could not be shown: RuntimeError." in text
        assert 'class="plugin-error"' in text and 'class="mainnav"' in text, "the shell holds"


async def test_hook_register_widgets(medianest_hub) -> None:
    async with medianest_hub.run(
        autoload=True, **HELLO, plugins={"hello": {"broken_pages": True}}
    ) as running:
        user = await running.sign_in(permissions=["search"])
        home = await running.client.get("/", headers=user)
        html = await home.get_data(as_text=True)
        assert home.status_code == 200
        assert 'aria-labelledby="widget-hello-greetings"' in html
        assert "0 greetings so far." in html
        assert "Broken widget (plugin hello) could not be shown: RuntimeError." in html
        assert "Recently added" in html, "the rest of Home is there"


async def test_hook_register_jobs(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        await running.hub.jobs.enqueue("hello.count_visit", job_id="visit-1")
        for _ in range(100):
            if await running.hub.cache.get("hello:visits"):
                break
            await asyncio.sleep(0.02)
        assert await running.hub.cache.get("hello:visits") == 1


async def test_hook_register_live_topics(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        reader = await running.sign_in(permissions=["search"])
        outsider = await running.sign_in(permissions=["request"])
        client = running.app.test_client()
        async with (
            client.websocket("/api/v1/live", headers=reader) as socket,
            client.websocket("/api/v1/live", headers=outsider) as refused,
        ):
            await socket.send(json.dumps({"type": "subscribe", "topics": ["hello.greetings"]}))
            subscribed = json.loads(await asyncio.wait_for(socket.receive(), 5))
            assert subscribed["topics"] == ["hello.greetings"]
            await refused.send(json.dumps({"type": "subscribe", "topics": ["hello.greetings"]}))
            error = json.loads(await asyncio.wait_for(refused.receive(), 5))
            assert error["code"] == "forbidden" and error["permission"] == "search"
            response = await running.client.post(
                "/api/v1/plugins/hello/greetings", json={"name": "Ann"}, headers=reader
            )
            assert response.status_code == 201
            event = json.loads(await asyncio.wait_for(socket.receive(), 5))
        assert event["topic"] == "hello.greetings" and event["id"] == 1
        assert event["data"]["greeting"] == "hello, Ann"


async def test_hook_register_flags(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        assert running.hub.flags.is_enabled("hello.greetings") is True
        await running.hub.flag_service.set("hello.greetings", False, by="test")
        admin = await running.sign_in(role="admin")
        response = await running.client.post(
            "/api/v1/plugins/hello/greetings", json={"name": "A"}, headers=admin
        )
        assert response.status_code == 409
        flags = await (await running.client.get("/api/v1/flags", headers=admin)).get_json()
        by_key = {flag["key"]: flag for flag in flags["items"]}
        assert by_key["hello.greetings"]["enabled"] is False
        assert by_key["hello.greetings"]["updated_by"] == "test"


async def test_hook_register_models(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        user = await running.sign_in()
        for name in ("Ann", "Bo"):
            response = await running.client.post(
                "/api/v1/plugins/hello/greetings", json={"name": name}, headers=user
            )
        assert (await response.get_json())["total"] == 2


async def test_hook_register_demo(tmp_path) -> None:
    from medianest.config import load_settings
    from medianest.core.plugins import PluginHost
    from medianest.sdk import Demo

    host = PluginHost(load_settings(data_dir=tmp_path, **HELLO))
    [demo] = host.call(host.plugins["hello"], "register_demo")
    assert isinstance(demo, Demo)
    async with demo.start(tmp_path) as setup:
        assert setup.settings == {"greeting": "hello from the demo"}


async def test_hook_startup(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **HELLO) as running:
        assert await running.hub.cache.get("hello:started") is True


async def test_hook_shutdown(medianest_hub) -> None:
    from medianest_hello.plugin import LIFECYCLE

    LIFECYCLE.clear()
    async with medianest_hub.run(autoload=True, **HELLO):
        assert LIFECYCLE == ["startup"]
    assert LIFECYCLE == ["startup", "shutdown"]
