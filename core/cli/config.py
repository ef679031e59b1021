"""``medianest config``: the effective settings, shown or checked."""

from __future__ import annotations

import json
from typing import Any

import click
from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic_core import to_jsonable_python

from medianest.core.cli._common import Context, handles_errors, out, run
from medianest.core.hub import build_hub
from medianest.core.logging import REDACTED, redact_value
from medianest.core.web.health import check_sources
from medianest.core.web.schemas import ComponentHealth
from medianest.sdk.errors import ConfigurationError


@click.group("config")
def config_group() -> None:
    """Settings."""


def _redacted(value: Any) -> Any:
    """``value`` (a settings dump in Python mode) with its secrets masked, nothing else.

    A secret is what the settings model declares as one (``SecretStr``, ``SecretBytes``), and
    a password or token inside a URL or query string; a field is never masked for its name
    alone (``auth.access_token_minutes`` is a duration, not a token).
    """
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v) for v in value]
    return redact_value(value)


def _shown(model: BaseModel) -> Any:
    return to_jsonable_python(_redacted(model.model_dump(mode="python")))


@config_group.command("show")
@click.pass_obj
@handles_errors
def config_show(obj: Context) -> None:
    """Print the effective settings as JSON, secrets redacted."""
    settings = obj.settings()
    hub = build_hub(settings)
    data = _shown(settings)
    data["mode"] = settings.mode
    data["database_url"] = redact_value(settings.effective_database_url)
    data["plugins"] = {
        info.key: _shown(info.settings) if info.settings else {} for info in hub.host.enabled()
    }
    out.print_json(json.dumps(data))


@config_group.command("check")
@click.option("--offline", is_flag=True, help="Validate only; do not connect to anything.")
@click.pass_obj
@handles_errors
def config_check(obj: Context, offline: bool) -> None:
    """Validate the settings and plugins, then check the database, Redis and every media
    source answer (a source's health check: its service is there and takes the credentials)."""
    settings = obj.settings()
    hub = build_hub(settings)
    out.print(
        f"settings are valid ({settings.mode} mode, "
        f"plugins: {', '.join(p.key for p in hub.host.enabled()) or 'none'})"
    )
    if offline:
        return

    async def reach() -> list[ComponentHealth]:
        await hub.start(services_only=True, migrate=settings.mode == "embedded")
        try:
            return await check_sources(hub)
        finally:
            await hub.close()

    sources = run(reach())
    out.print("database" + (" and Redis" if settings.redis_url else "") + " answer")
    for source in sources:
        out.print(f"{source.name}: " + ("ok" if source.ok else f"failing: {source.detail}"))
    failing = [source.name for source in sources if not source.ok]
    if failing:
        raise ConfigurationError(f"media sources failing their check: {', '.join(failing)}")
