"""The image's HEALTHCHECK script and the orchestrators' HTTP probes, against a served hub."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit

import httpx

from medianest.core.serving import bind_socket
from tests.deploy.deploy_files import DOCKER, kubernetes_objects, pod_spec
from tests.served_hub import served_hub

SCRIPT = DOCKER / "healthcheck.py"


def healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDIANEST_SERVER__PORT": str(port)}
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )


def _http_probe_paths() -> set[str]:
    paths = set()
    for obj in kubernetes_objects():
        for container in (pod_spec(obj) or {}).get("containers", []):
            for key in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "httpGet" in container.get(key, {}):
                    paths.add(container[key]["httpGet"]["path"])
    return paths


def test_the_healthcheck_passes_on_a_serving_hub_and_its_probe_paths_answer(tmp_path) -> None:
    with served_hub(tmp_path / "data", items=1) as hub:
        port = urlsplit(hub.url).port
        assert port is not None
        result = healthcheck(port)
        assert result.returncode == 0, result.stderr
        paths = _http_probe_paths()
        assert paths == {"/health/live", "/health/ready"}
        # The kubelet probes the pod's address: a Host the hub serves nothing else to.
        pod_address = {"Host": "10.1.2.3:8080"}
        for path in sorted(paths):
            assert httpx.get(hub.url + path, headers=pod_address, timeout=10).status_code == 200
        assert httpx.get(hub.url + "/sign-in", headers=pod_address, timeout=10).status_code == 400


def test_the_healthcheck_fails_when_nothing_answers() -> None:
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()  # the port is free again: nobody listens there
    result = healthcheck(port)
    assert result.returncode == 1
    assert f"127.0.0.1:{port}/health/live" in result.stderr
