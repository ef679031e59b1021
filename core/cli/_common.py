"""What every ``medianest`` subcommand shares: the settings context, consoles and exit codes.

Every command reports a configuration problem as one clear message and exits with status 2;
other expected failures exit with status 1; nothing prints a traceback for a user's mistake.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import sys
from collections.abc import Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Column, Table

from medianest.config import Settings, load_settings
from medianest.core.logging import configure_logging
from medianest.core.serving import bind_socket
from medianest.sdk.errors import ConfigurationError, MediaNestError

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


class Context:
    """What the top-level options set up for subcommands."""

    def __init__(self, config_file: Path | None) -> None:
        self.config_file = config_file

    def settings(self, *, quiet: bool = True, **overrides: Any) -> Settings:
        """Load and validate the settings (the file named by ``--config`` if any).

        :param quiet: short commands: log warnings and errors only (all of core's, a plugin's
            or a library's errors only), unless ``log.level`` is ``debug``; long-running
            commands log everything at the configured level.
        """
        if self.config_file is not None:
            os.environ["MEDIANEST_CONFIG"] = str(self.config_file)
        settings = load_settings(self.config_file, **overrides)
        level = settings.log.level
        if quiet and level == "info":
            level = "warning"
        configure_logging(
            settings.log.model_copy(update={"level": level}), quiet=quiet and level != "debug"
        )
        return settings


def print_error(message: str) -> None:
    """Print ``message`` on standard error after a red ``error:``, taken literally.

    The message is never read as console markup, so ``[a-z]`` in it is shown as written.
    """
    err.print("[bold red]error:[/] ", markup=True, end="")
    err.print(message, markup=False, highlight=False, soft_wrap=True)


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected errors into a message and an exit status instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigurationError as exc:
            print_error(str(exc))
            sys.exit(2)
        except MediaNestError as exc:
            print_error(str(exc))
            sys.exit(1)
        except OSError as exc:
            print_error(str(exc.strerror or exc))
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper


def listen(host: str, port: int, *, choose_another: str) -> socket.socket:
    """A listening socket on ``host:port`` for a command that serves.

    :param choose_another: how the person running the command picks another port (named in
        the error when the address is taken).
    :raises ConfigurationError: the address is in use, or cannot be listened on here.
    """
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        return bind_socket(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"cannot listen on {shown}: the address is already in use (is another "
                f"MediaNest running?); {choose_another}"
            ) from exc
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigurationError(
                f"cannot listen on {shown}: this machine has no such address; choose another host"
            ) from exc
        if exc.errno == errno.EACCES:
            raise ConfigurationError(
                f"cannot listen on {shown}: permission denied (ports below 1024 need "
                f"privileges); {choose_another}"
            ) from exc
        raise


def plain_table(*columns: str | Column) -> Table:
    """A table for the terminal: a rule under the header, no frame, one space between
    columns, so that the listings fit 80 columns."""
    return Table(
        *columns,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        padding=(0, 1),
    )


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to completion on a fresh event loop."""
    return asyncio.run(coro)
