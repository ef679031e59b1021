"""The ``medianest`` command, run in a subprocess like a person would."""

from __future__ import annotations

import json
import re
import subprocess

import httpx
import pytest

from tests.cli_helpers import MEDIANEST, clean_environment, medianest
from tests.services import SECRET_KEY

HELLO = {"MEDIANEST_FEATURES__HELLO": "true"}


def test_bad_setting_exits_2_naming_it_without_traceback(tmp_path) -> None:
    result = medianest(tmp_path, "config", "check", "--offline", MEDIANEST_SERVER__PORT="x")
    assert result.returncode == 2
    assert "server.port [MEDIANEST_SERVER__PORT]" in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_plugin_settings_exit_2(tmp_path) -> None:
    result = medianest(
        tmp_path,
        "config",
        "check",
        "--offline",
        **HELLO,
        MEDIANEST_PLUGINS__HELLO__LIBRARY_SIZE="-1",
    )
    assert result.returncode == 2
    assert "plugins.hello.library_size" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_show_redacts_secrets(tmp_path) -> None:
    result = medianest(
        tmp_path,
        "config",
        "show",
        **HELLO,
        MEDIANEST_PLUGINS__HELLO__ACCOUNTS='{"ann": "hunter2"}',
        MEDIANEST_DATABASE_URL="postgres://app:pw123@db:5432/x",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["plugins"]["hello"]["accounts"] == {"ann": "***"}
    assert "hunter2" not in result.stdout and "pw123" not in result.stdout
    assert shown["mode"] == "embedded"


def test_config_check_connects(tmp_path) -> None:
    result = medianest(tmp_path, "config", "check")
    assert result.returncode == 0, result.stderr
    assert "settings are valid (embedded mode" in result.stdout
    assert "database answer" in result.stdout


def test_config_check_reports_unreachable_database(tmp_path) -> None:
    result = medianest(
        tmp_path,
        "config",
        "check",
        MEDIANEST_DATABASE_URL="postgres://nobody:secretpw@127.0.0.1:1/none",
    )
    assert result.returncode == 2
    assert "secretpw" not in result.stderr and "Traceback" not in result.stderr


def test_plugins_list_shows_key_version_enabled_provides_health(tmp_path) -> None:
    result = medianest(tmp_path, "plugins", "list", **HELLO, COLUMNS="200")
    assert result.returncode == 0, result.stderr
    assert re.search(r"hello\s.*medianest-hello 1\.2\.0.*yes", result.stdout)
    assert "media_sources: hello:main" in result.stdout
    assert "hello:main: ok" in result.stdout
    assert re.search(r"plex\s.*medianest-plex", result.stdout)


def test_db_upgrade_then_flags(tmp_path) -> None:
    upgraded = medianest(tmp_path, "db", "upgrade", **HELLO)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "applied core.0001_initial" in upgraded.stdout
    again = medianest(tmp_path, "db", "upgrade", **HELLO)
    assert "(0 migrations applied)" in again.stdout
    switched = medianest(tmp_path, "flags", "set", "hello.greetings", "off", **HELLO)
    assert switched.returncode == 0, switched.stderr
    listed = medianest(tmp_path, "flags", "list", **HELLO)
    assert re.search(r"hello\.greetings\s+.*off \(set\)", listed.stdout)


def test_unknown_flag_and_bad_value_are_clear(tmp_path) -> None:
    medianest(tmp_path, "db", "upgrade", **HELLO)
    unknown = medianest(tmp_path, "flags", "set", "hello.nope", "on", **HELLO)
    assert unknown.returncode == 1
    assert "hello.nope" in unknown.stderr and "hello.greetings" in unknown.stderr
    bad = medianest(tmp_path, "flags", "set", "hello.greetings", "maybe", **HELLO)
    assert bad.returncode == 1 and "on or off" in bad.stderr


def test_schema_behind_is_reported_in_scaled_mode(tmp_path, postgres_url, redis_url) -> None:
    result = medianest(
        tmp_path,
        "flags",
        "list",
        MEDIANEST_DATABASE_URL=postgres_url,
        MEDIANEST_REDIS_URL=redis_url,
        MEDIANEST_SECRET_KEY=SECRET_KEY,
    )
    assert result.returncode == 2
    assert "run `medianest db upgrade`" in result.stderr


def test_worker_needs_redis(tmp_path) -> None:
    result = medianest(tmp_path, "worker")
    assert result.returncode == 2
    assert "set redis_url" in result.stderr


def test_several_workers_need_redis(tmp_path) -> None:
    result = medianest(tmp_path, "serve", "--workers", "2")
    assert result.returncode == 2
    assert "several workers need shared state" in result.stderr


def test_serve_prints_where_and_becomes_ready(tmp_path) -> None:
    log = tmp_path / "serve.log"
    with (
        log.open("w") as stderr,
        subprocess.Popen(
            [*MEDIANEST, "serve", "--port", "0"],
            cwd=tmp_path,
            env=clean_environment(tmp_path),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as process,
    ):
        try:
            line = process.stdout.readline()
            match = re.search(r"serving on (http://\S+) \(embedded mode\)", line)
            assert match, line + log.read_text()
            response = httpx.get(f"{match.group(1)}/health/ready", timeout=10)
            assert response.status_code == 200
            assert response.json()["status"] == "ready"
        finally:
            process.terminate()
            assert process.wait(timeout=20) == 0, log.read_text()


@pytest.mark.parametrize("value", ["abc", "70000"])
def test_bad_port_option_is_refused(tmp_path, value) -> None:
    result = medianest(tmp_path, "serve", "--port", value)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_a_bad_list_entry_names_the_list_variable_and_keeps_brackets(tmp_path) -> None:
    servers = json.dumps([{"name": "Bad Name", "url": "http://127.0.0.1:9", "token": "t"}])
    result = medianest(
        tmp_path, "config", "check", "--offline", MEDIANEST_PLUGINS__PLEX__SERVERS=servers
    )
    assert result.returncode == 2
    assert "plugins.plex.servers.0.name [MEDIANEST_PLUGINS__PLEX__SERVERS as JSON]" in result.stderr
    assert "__SERVERS__NAME" not in result.stderr
    # The pattern in pydantic's message keeps its character classes (no markup eats them).
    assert re.search(r"\^\[a-z", result.stderr), result.stderr
    assert "Traceback" not in result.stderr
