"""The ``medianest`` command: the group and its subcommands, one module per command group.

Subcommands import what they share from ``_common`` (settings context, consoles, exit codes)
and ``_hub`` (starting a hub), never from each other.
"""

from __future__ import annotations

from pathlib import Path

import click

from medianest.core.cli._common import Context
from medianest.core.cli.config import config_group
from medianest.core.cli.db import db_group
from medianest.core.cli.demo import demo
from medianest.core.cli.flags import flags_group
from medianest.core.cli.plugins import plugins_group
from medianest.core.cli.requests import requests_group
from medianest.core.cli.secrets import secrets_group
from medianest.core.cli.serve import serve, worker
from medianest.core.cli.sync import sync_command
from medianest.core.cli.users import users_group

__all__ = ["main"]


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


for _command in (
    serve,
    worker,
    demo,
    db_group,
    plugins_group,
    config_group,
    flags_group,
    users_group,
    secrets_group,
    sync_command,
    requests_group,
):
    main.add_command(_command)
