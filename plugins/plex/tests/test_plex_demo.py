"""The plugin's part of ``medianest demo``: a served world the plugin's settings point at."""

from __future__ import annotations

import httpx
import pytest
from plex_testkit import approve

from medianest.sdk import ConfigurationError, Demo
from medianest_plex import plugin
from medianest_plex.demo import DEFAULT_ITEMS, ITEMS_ENV, demo_items, run_demo
from medianest_plex.plugin import PlexRuntime
from medianest_plex.settings import PlexSettings


def test_items_default_and_come_from_the_environment() -> None:
    assert demo_items({}) == DEFAULT_ITEMS
    assert demo_items({ITEMS_ENV: " 25 "}) == 25
    assert demo_items({ITEMS_ENV: "0"}) == 0


@pytest.mark.parametrize("value", ["-1", "many", "1e3", "300000"])
def test_bad_item_counts_are_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match=ITEMS_ENV):
        demo_items({ITEMS_ENV: value})


def test_the_plugin_registers_its_demo() -> None:
    demo = plugin.register_demo()
    assert isinstance(demo, Demo) and demo.start is run_demo


async def test_the_demo_serves_two_servers_the_settings_point_at(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ITEMS_ENV, "30")
    async with run_demo(tmp_path) as setup:
        settings = PlexSettings.model_validate(setup.settings)
        assert [s.name for s in settings.servers] == ["home", "cabin"]
        text = "\n".join(setup.instructions)
        assert "Sign in with Plex" in text and "30 items each" in text
        for role in ("(owner)", "(friend)", "(managed)", "(stranger)"):
            assert role in text
        runtime = PlexRuntime.build(settings)
        try:
            assert all([await source.count() > 0 for source in runtime.sources])
            auth = runtime.auth_provider()
            challenge = await auth.start(forward_url="http://127.0.0.1:8080/sign-in")
            assert challenge.url.startswith(settings.auth_app_url + "#?")
            control_url = f"{settings.plextv_url}/__sim"
            async with httpx.AsyncClient(base_url=control_url, timeout=10) as control:
                await approve(control, challenge.handle, "owner")
            identity = await auth.poll(challenge.handle)
            assert identity is not None and identity.is_admin is True
        finally:
            await runtime.aclose()
    async with httpx.AsyncClient(timeout=2) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(settings.plextv_url)
