"""Settings: several instances, validated with errors that name the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from medianest_overseerr.settings import OverseerrSettings

KEY = "0123456789abcdef"


def one(**fields: object) -> dict[str, object]:
    return {"name": "home", "url": "http://overseerr.lan:5055", "api_key": KEY} | fields


def test_instances_are_read_with_their_ids() -> None:
    settings = OverseerrSettings(
        instances=[one(), one(name="cabin", url="https://seerr.example.org/api/v1/")]
    )
    home, cabin = settings.instances
    assert home.provider_id == "overseerr:home" and home.create_missing_users is False
    assert cabin.url == "https://seerr.example.org"
    assert cabin.api_url == "https://seerr.example.org/api/v1"
    assert settings.instance("cabin") is cabin and settings.instance("attic") is None


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"url": "overseerr.lan:5055"}, "url", "http:// or https://"),
        ({"url": "http://o.lan/?key=1"}, "url", "query string"),
        ({"api_key": "  "}, "api_key", "empty"),
        ({"name": "Home Server"}, "name", "pattern"),
        ({"webhook_secret": "short"}, "webhook_secret", "at least 16"),
        ({"timeout": 0}, "timeout", "greater than 0"),
        ({"apikey": KEY}, "apikey", "Extra inputs"),
    ],
)
def test_bad_settings_name_the_field(fields: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OverseerrSettings(instances=[one(**fields)])
    error = caught.value.errors()[0]
    assert error["loc"][-1] == field
    assert words in str(caught.value)


def test_two_instances_with_one_name_are_refused() -> None:
    with pytest.raises(ValidationError, match="two Overseerr instances are named 'home'"):
        OverseerrSettings(instances=[one(), one(url="http://other:5055")])


def test_secrets_do_not_show() -> None:
    settings = OverseerrSettings(instances=[one(webhook_secret="s" * 20)])
    assert KEY not in repr(settings) and "s" * 20 not in repr(settings)
