"""The ``medianest`` command, run in a subprocess like a person would."""

from __future__ import annotations

import json
import re
import socket
import subprocess

import httpx
import pytest

from tests.cli_helpers import MEDIANEST, clean_environment, medianest
from tests.services import SECRET_KEY

# Every test here starts processes of its own (`-m "not slow"` leaves them out).
pytestmark = pytest.mark.slow

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


def test_config_show_masks_secrets_only(tmp_path) -> None:
    result = medianest(
        tmp_path,
        "config",
        "show",
        MEDIANEST_SECRET_KEY=SECRET_KEY,
        MEDIANEST_REDIS_URL="redis://:redispw@cache:6379/0",
        MEDIANEST_AUTH__ACCESS_TOKEN_MINUTES="20",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["secret_key"] == "***" and SECRET_KEY not in result.stdout
    assert shown["redis_url"] == "redis://:***@cache:6379/0"
    # Named like secrets, but durations and counts: shown as they are.
    assert shown["auth"]["access_token_minutes"] == 20
    assert shown["auth"]["refresh_token_days"] == 30
    assert shown["server"]["port"] == 8080


def test_short_commands_do_not_repeat_what_plugins_say_as_they_load(tmp_path) -> None:
    # The Plex plugin is on by default and warns that, with no server, it offers no sign-in:
    # worth saying when the hub serves, noise before every command's own output.
    quiet = medianest(tmp_path, "config", "check", "--offline")
    assert quiet.returncode == 0, quiet.stderr
    assert "Plex sign-in is not offered" not in quiet.stderr
    debugging = medianest(tmp_path, "config", "check", "--offline", MEDIANEST_LOG__LEVEL="debug")
    assert "Plex sign-in is not offered" in debugging.stderr


def test_error_text_is_printed_as_written(tmp_path) -> None:
    result = medianest(tmp_path, "config", "check", "--offline", **{"MEDIANEST_NOPE[a-z]": "1"})
    assert result.returncode == 2
    assert "MEDIANEST_NOPE[a-z] is not a known setting" in result.stderr


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


def test_serve_says_the_schema_is_behind_without_a_traceback(
    tmp_path, postgres_url, redis_url
) -> None:
    result = medianest(
        tmp_path,
        "serve",
        "--port",
        "0",
        MEDIANEST_DATABASE_URL=postgres_url,
        MEDIANEST_REDIS_URL=redis_url,
        MEDIANEST_SECRET_KEY=SECRET_KEY,
    )
    assert result.returncode == 2
    assert "run `medianest db upgrade`" in result.stderr
    assert "Traceback" not in result.stderr and "LifespanFailureError" not in result.stderr


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


def test_serve_names_an_address_in_use_and_how_to_choose_another(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = medianest(tmp_path, "serve", "--port", str(port))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in result.stderr
    assert "--port" in result.stderr and "MEDIANEST_SERVER__PORT" in result.stderr
    assert "Traceback" not in result.stderr


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
