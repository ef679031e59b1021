"""The ``medianest`` command.

Every command reports a configuration problem as one clear message and exits with status 2;
other expected failures exit with status 1; nothing prints a traceback for a user's mistake.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from medianest.config import Settings, load_settings
from medianest.core.logging import configure_logging
from medianest.sdk.errors import ConfigurationError, MediaNestError

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


class Context:
    """What the top-level options set up for subcommands."""

    def __init__(self, config_file: Path | None) -> None:
        self.config_file = config_file

    def settings(self, *, quiet: bool = True, **overrides: Any) -> Settings:
        """Load and validate the settings (the file named by ``--config`` if any).

        :param quiet: log warnings and errors only (short commands); long-running commands
            log at the configured level.
        """
        if self.config_file is not None:
            os.environ["MEDIANEST_CONFIG"] = str(self.config_file)
        settings = load_settings(self.config_file, **overrides)
        level = settings.log.level
        if quiet and level in ("debug", "info"):
            level = "warning"
        configure_logging(settings.log.model_copy(update={"level": level}))
        return settings


def _print_error(message: str) -> None:
    """``error: <message>`` on stderr; the message is text, never markup (``[a-z]`` stays)."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected errors into a message and an exit status instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigurationError as exc:
            _print_error(str(exc))
            sys.exit(2)
        except MediaNestError as exc:
            _print_error(str(exc))
            sys.exit(1)
        except OSError as exc:
            _print_error(str(exc.strerror or exc))
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to completion on a fresh event loop."""
    return asyncio.run(coro)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML settings file (default: $MEDIANEST_CONFIG or ./medianest.toml).",
)
@click.version_option(package_name="medianest")
@click.pass_context
def main(ctx: click.Context, config_file: Path | None) -> None:
    """MediaNest: one hub in front of your media."""
    ctx.obj = Context(config_file)


def _register_commands() -> None:
    from medianest.core.cli_admin import config_group, db_group, flags_group, plugins_group
    from medianest.core.cli_secrets import secrets_group
    from medianest.core.cli_serve import demo, serve, worker
    from medianest.core.cli_sync import sync_command
    from medianest.core.cli_users import users_group

    for command in (serve, worker, demo, db_group, plugins_group, config_group, flags_group):
        main.add_command(command)
    main.add_command(users_group)
    main.add_command(secrets_group)
    main.add_command(sync_command)


_register_commands()
