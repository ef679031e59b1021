"""``medianest demo`` as a person runs it: it prints where to sign in and how, and a sign-in
through the printed addresses works (the simulator's control API plays the person on Plex)."""

from __future__ import annotations

import queue
import re
import socket
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs

import httpx
import pytest

from tests.cli_helpers import MEDIANEST, clean_environment

# Every test here starts processes of its own (`-m "not slow"` leaves them out).
pytestmark = pytest.mark.slow

STARTUP_SECONDS = 60


@contextmanager
def running_demo(
    tmp_path, *args: str, **env: str
) -> Iterator[tuple[subprocess.Popen, queue.Queue]]:
    """``medianest demo ARGS`` (default ``--port 0``); yields the process and a queue of its
    output lines."""
    log = tmp_path / "demo.log"
    lines: queue.Queue[str | None] = queue.Queue()
    with (
        log.open("w") as stderr,
        subprocess.Popen(
            [*MEDIANEST, "demo", *(args or ("--port", "0")), "--data-dir", str(tmp_path / "demo")],
            cwd=tmp_path,
            env=clean_environment(tmp_path, **env),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as process,
    ):

        def pump() -> None:
            for line in process.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            yield process, lines
        finally:
            process.terminate()
            code = process.wait(timeout=30)
            reader.join(timeout=10)
            assert code == 0, log.read_text()


def read_until(lines: queue.Queue, marker: str) -> list[str]:
    """Output lines up to and including the first containing ``marker``."""
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=STARTUP_SECONDS)
        except queue.Empty:
            raise AssertionError("no output for a minute:\n" + "\n".join(seen)) from None
        if line is None:
            raise AssertionError("the demo stopped:\n" + "\n".join(seen))
        seen.append(line)
        if marker in line:
            return seen


def test_demo_prints_where_and_how_to_sign_in_and_sign_in_works(tmp_path) -> None:
    with running_demo(tmp_path, MEDIANEST_DEMO_PLEX_ITEMS="40") as (_, lines):
        output = read_until(lines, "(stranger)")
        text = "\n".join(output)
        hub_url = re.search(r"serving on (http://\S+) \(embedded mode\)", text).group(1)
        assert f"Sign in at {hub_url}/sign-in" in text
        assert "click 'Sign in with Plex'" in text
        assert "40 items each" in text
        assert re.search(r"\(owner\)\s+-> signed in as an admin", text)
        assert re.search(r"\(friend\), \(managed\)\s+-> signed in as a user", text)
        assert re.search(r"\(stranger\)\s+-> refused", text)
        control = re.search(r"Simulator control API: (http://\S+)", text).group(1)

        with httpx.Client(timeout=15) as browser:
            page = browser.get(f"{hub_url}/sign-in")
            assert page.status_code == 200 and "Sign in with Plex" in page.text
            assert browser.get(hub_url).headers["location"].endswith("/sign-in")
            assert sign_in(browser, hub_url, control, "owner").json()["user"]["role"] == "admin"
            assert sign_in(browser, hub_url, control, "friend1").json()["user"]["role"] == "user"
            refused = sign_in(browser, hub_url, control, "stranger")
            assert refused.status_code == 403
            assert "no access" in refused.json()["detail"]
    assert (tmp_path / "demo" / "secret_key").is_file()


def sign_in(browser: httpx.Client, hub_url: str, control: str, account: str) -> httpx.Response:
    """Start, approve the PIN as ``account`` through the control API, poll once approved."""
    api = f"{hub_url}/api/v1/auth/providers/plex"
    challenge = browser.post(f"{api}/start", json={"forward_url": "/sign-in"}).json()
    page_url, _, fragment = challenge["url"].partition("#?")
    assert page_url.startswith(control.removesuffix("/__sim"))
    assert browser.get(page_url).status_code == 200
    code = parse_qs(fragment)["code"][0]
    [pin] = [p for p in browser.get(f"{control}/pins").json() if p["code"] == code]
    approved = browser.post(f"{control}/pins/{pin['id']}/approve", json={"account": account})
    assert approved.status_code == 200, approved.text
    return browser.post(f"{api}/poll", json={"handle": challenge["handle"]})


def test_the_command_line_works_on_the_running_demo(tmp_path) -> None:
    demo_dir = tmp_path / "demo"
    with running_demo(
        tmp_path, "--host", "127.0.0.1", MEDIANEST_SERVER__PORT="0", MEDIANEST_DEMO_PLEX_ITEMS="40"
    ) as (_, lines):
        text = "\n".join(read_until(lines, "export MEDIANEST_CONFIG="))
        text += "\n" + lines.get(timeout=STARTUP_SECONDS)
        port = int(re.search(r"serving on http://127\.0\.0\.1:(\d+) ", text).group(1))
        assert port != 8080  # MEDIANEST_SERVER__PORT=0 picked a free one
        config_file = demo_dir / "medianest.toml"
        assert f"export MEDIANEST_CONFIG={config_file}" in text
        assert re.search(r"\S*medianest plugins list", text)
        written = tomllib.loads(config_file.read_text())
        assert written["server"]["port"] == port
        assert written["data_dir"] == str(demo_dir)

        def cli(*args: str) -> subprocess.CompletedProcess:
            # Another terminal, elsewhere: only the printed variable leads to the demo.
            elsewhere = tmp_path / "elsewhere"
            elsewhere.mkdir(exist_ok=True)
            env = clean_environment(elsewhere, MEDIANEST_CONFIG=str(config_file), COLUMNS="80")
            del env["MEDIANEST_DATA_DIR"]
            return subprocess.run(
                [*MEDIANEST, *args],
                cwd=elsewhere,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        synced = cli("sync", "plex:home", "--full")
        assert synced.returncode == 0, synced.stderr
        assert re.search(r"plex:home: full sync succeeded .*: 4\d items", synced.stdout)
        listed = cli("plugins", "list")
        assert listed.returncode == 0, listed.stderr
        assert "plex:home: ok" in listed.stdout and "plex:cabin: ok" in listed.stdout
        runs = cli("sync", "--list")
        assert runs.returncode == 0, runs.stderr
        assert re.search(r"plex:home\s+full\s+succeeded", runs.stdout)
        for output in (listed.stdout, runs.stdout):
            # Readable at 80 columns: nothing cut short, no line wider than the terminal.
            assert "\u2026" not in output
            assert max(len(line) for line in output.splitlines()) <= 80
            assert "Plex sign-in is not offered" not in output


def test_a_demo_port_in_use_is_named_with_how_to_choose_another(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*MEDIANEST, "demo", "--data-dir", str(tmp_path / "demo")],
            cwd=tmp_path,
            env=clean_environment(
                tmp_path, MEDIANEST_SERVER__PORT=str(port), MEDIANEST_DEMO_PLEX_ITEMS="10"
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in result.stderr
    assert "make demo PORT=" in result.stderr
    assert "Traceback" not in result.stderr
