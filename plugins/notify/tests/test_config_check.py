"""``medianest config check`` with the notify plugin: its settings are validated, and the mail
server is reached (and takes the credentials) before the hub is trusted to deliver."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from notify_testkit import SmtpServer

from tests.cli_helpers import medianest

pytestmark = pytest.mark.slow  # runs the command in a process of its own


def _email(port: int) -> str:
    return json.dumps(
        {"host": "127.0.0.1", "port": port, "tls": "none", "from_address": "hub@x.example"}
    )


async def test_config_check_says_the_mail_server_answers(tmp_path: Path, smtp: SmtpServer) -> None:
    result = await asyncio.to_thread(
        medianest, tmp_path, "config", "check", MEDIANEST_PLUGINS__NOTIFY__EMAIL=_email(smtp.port)
    )
    assert result.returncode == 0, result.stderr
    assert "notify" in result.stdout
    assert (
        f"notifier notify:email is ready (the mail server 127.0.0.1:{smtp.port} answers)"
        in result.stdout
    )


async def test_config_check_fails_when_the_mail_server_is_away(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await asyncio.to_thread(
        medianest, tmp_path, "config", "check", MEDIANEST_PLUGINS__NOTIFY__EMAIL=_email(port)
    )
    assert result.returncode == 2
    assert "notifiers that cannot deliver" in result.stderr
    assert f"notify:email says could not reach the mail server 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


async def test_config_check_names_a_bad_admin_url_without_showing_it(tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        medianest,
        tmp_path,
        "config",
        "check",
        "--offline",
        MEDIANEST_PLUGINS__NOTIFY__APPRISE=json.dumps(
            {"admin_urls": ["nosuchservice://very-secret-token"]}
        ),
    )
    assert result.returncode == 2
    assert "plugins.notify.apprise.admin_urls.0" in result.stderr
    assert "does not know the scheme nosuchservice://" in result.stderr
    assert "very-secret-token" not in result.stderr
