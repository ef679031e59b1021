"""``medianest secrets rotate``: re-encrypt every stored secret under the current secret key.

Rotating the key: set the new ``secret_key`` and move the old one into
``previous_secret_keys`` on every replica and worker, run this command, then drop the old key.
"""

from __future__ import annotations

import asyncio
import sys

import click

from medianest.config import Settings
from medianest.core.cli._common import Context, err, handles_errors, out, run
from medianest.core.cli._hub import services
from medianest.core.secret_rotation import DEFAULT_BATCH_SIZE, ColumnReport, rotate_all
from medianest.core.secrets import SecretBox, load_secret_key


async def rotate_secrets(settings: Settings, *, batch_size: int) -> list[ColumnReport]:
    """Open the hub's database and rotate every encrypted column (see :func:`rotate_all`).

    :raises ConfigurationError: the settings, database or Redis are not usable.
    """
    current = SecretBox(await asyncio.to_thread(load_secret_key, settings))
    async with services(settings) as hub:
        return await rotate_all(hub.secrets, current, batch_size=batch_size)


@click.group("secrets")
def secrets_group() -> None:
    """Secrets stored encrypted at rest."""


@secrets_group.command("rotate")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows read and rewritten at a time.",
)
@click.pass_obj
@handles_errors
def secrets_rotate(obj: Context, batch_size: int) -> None:
    """Re-encrypt stored secrets under the current secret_key.

    Run it after setting the new secret_key and moving the old one into previous_secret_keys
    on every replica. Reports counts per column; may be run again. Exits 1 when some value
    decrypts under no configured key (those rows are named and left as they are).
    """
    reports = run(rotate_secrets(obj.settings(), batch_size=batch_size))
    for report in reports:
        out.print(report.summary(), soft_wrap=True)
    if any(report.undecryptable for report in reports):
        err.print(
            "[bold red]error:[/] some secrets decrypt under no configured key and were left "
            "as they are: restore the key they were written with into previous_secret_keys "
            "and run again, or have those people sign in again",
            markup=True,
            soft_wrap=True,
        )
        sys.exit(1)
