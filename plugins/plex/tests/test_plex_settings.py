"""The [plugins.plex] settings model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from medianest_plex.settings import PlexSettings

SERVER = {"name": "home", "url": "http://127.0.0.1:32400/", "token": "owner-token"}


def test_defaults() -> None:
    settings = PlexSettings(servers=[SERVER])
    assert settings.plextv_url == "https://plex.tv"
    assert settings.auth_app_url == "https://app.plex.tv/auth"
    assert settings.product == "MediaNest"
    assert settings.page_size == 1000
    assert settings.changes_overlap_seconds == 300
    assert settings.webhook_secret is None
    server = settings.servers[0]
    assert server.url == "http://127.0.0.1:32400"
    assert server.source_id == "plex:home"
    assert server.verify_tls is True


def test_client_identifier_is_stable_and_differs_between_configurations() -> None:
    first = PlexSettings(servers=[SERVER]).client_identifier
    assert first == PlexSettings(servers=[SERVER]).client_identifier
    other = PlexSettings(servers=[{**SERVER, "url": "http://10.0.0.2:32400"}]).client_identifier
    assert other != first
    assert PlexSettings(servers=[SERVER], client_identifier="mine").client_identifier == "mine"


def test_token_is_never_shown() -> None:
    settings = PlexSettings(servers=[SERVER], webhook_secret="s" * 20)
    assert "owner-token" not in repr(settings)
    assert "s" * 20 not in str(settings)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"servers": [SERVER, {**SERVER, "url": "http://x:1"}]}, "two servers are named 'home'"),
        ({"servers": [{**SERVER, "url": "ftp://x"}]}, "url must be an http:// or https:// URL"),
        ({"servers": [{**SERVER, "url": "http://x/?a=1"}]}, "must not carry a query string"),
        ({"servers": [{**SERVER, "name": "Home"}]}, "String should match pattern"),
        ({"servers": [{**SERVER, "token": " "}]}, "token is empty"),
        ({"plextv_url": "plex.tv"}, "plextv_url must be an http:// or https:// URL"),
        ({"webhook_secret": "short"}, "webhook_secret must be at least 16 characters"),
        ({"webhook_secret": "x" * 16 + "/"}, "webhook_secret may only contain"),
        ({"page_size": 1001}, "less than or equal to 1000"),
        ({"unknown": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_say_what_is_wrong(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PlexSettings(**{"servers": [SERVER], **change})
    assert message in str(caught.value)
