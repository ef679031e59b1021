"""``medianest config``: the effective settings, shown or checked."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic_core import to_jsonable_python

from medianest.core.cli._common import Context, handles_errors, out, run
from medianest.core.hub import build_hub
from medianest.core.logging import REDACTED, redact_value
from medianest.sdk.errors import ConfigurationError
from medianest.sdk.models import HealthStatus


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
    """Validate the settings and plugins, then check the database and Redis answer, and the
    services of notifiers that can check theirs (the mail server)."""
    settings = obj.settings()
    hub = build_hub(settings)
    out.print(
        f"settings are valid ({settings.mode} mode, "
        f"plugins: {', '.join(p.key for p in hub.host.enabled()) or 'none'})"
    )
    if offline:
        return

    async def reach() -> list[tuple[str, HealthStatus]]:
        await hub.start(services_only=True, migrate=settings.mode == "embedded")
        try:
            return await notifier_health(hub.registry.all("notifiers"))
        finally:
            await hub.close()

    notifiers = run(reach())
    out.print("database" + (" and Redis" if settings.redis_url else "") + " answer")
    # "<id> says" keeps an id such as notify:email from reading as an emoji code.
    problems = [f"{name} says {status.detail}" for name, status in notifiers if not status.ok]
    for name, status in notifiers:
        if status.ok:
            out.print(f"notifier {name} is ready ({status.detail or 'checked'})")
    if problems:
        raise ConfigurationError("notifiers that cannot deliver:\n  - " + "\n  - ".join(problems))


NOTIFIER_CHECK_SECONDS = 10.0
"""How long ``config check`` waits for one notifier's own check."""


async def notifier_health(notifiers: list[Any]) -> list[tuple[str, HealthStatus]]:
    """Each notifier that can check its settings against its service (an optional
    ``async def health() -> HealthStatus``: the mail server answers and takes the credentials),
    checked in parallel; a check that raises or takes too long counts as not ok."""

    async def one(notifier: Any) -> tuple[str, HealthStatus]:
        try:
            status = await asyncio.wait_for(notifier.health(), NOTIFIER_CHECK_SECONDS)
        except TimeoutError:
            status = HealthStatus(ok=False, detail="its check did not finish in time")
        except Exception as exc:
            status = HealthStatus(ok=False, detail=f"its check failed: {type(exc).__name__}")
        if not isinstance(status, HealthStatus):
            status = HealthStatus(ok=False, detail="its check did not return a HealthStatus")
        return str(notifier.id), status

    checked = [n for n in notifiers if callable(getattr(n, "health", None))]
    return list(await asyncio.gather(*(one(n) for n in checked)))
