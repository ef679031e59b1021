"""The deployment files name only what exists: commands and flags of the ``medianest`` CLI,
settings (as variables and as secret files), ports, labels and objects; and the settings they
give make a hub that boots in the mode they are for."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest

from medianest.config import Settings, load_settings
from medianest.core.cli import main as cli
from medianest.core.serving import bind_socket, hypercorn_config
from tests.deploy.deploy_files import (
    DOCKER,
    KUBERNETES,
    MEDIANEST_IMAGE,
    ROOT,
    compose,
    dockerfile_instructions,
    final_stage,
    image_environment,
    kubernetes_files,
    kubernetes_objects,
    medianest_services,
    named,
    of_kind,
    pod_spec,
)

INSTRUCTIONS = dockerfile_instructions()
IMAGE_ENV = image_environment(INSTRUCTIONS)


def _exec_form(instruction: str) -> list[str]:
    [ins] = [i for i in final_stage(INSTRUCTIONS) if i.keyword == instruction]
    value: list[str] = json.loads(ins.text)
    return value


def check_command(args: list[str]) -> click.Command:
    """The ``medianest`` subcommand ``args`` run, every flag checked to be one it has.

    :raises AssertionError: naming the unknown command, flag or argument.
    """
    command: click.Command = cli
    tokens = list(args)
    while tokens:
        token = tokens.pop(0)
        if isinstance(command, click.Group):
            assert token in command.commands, f"medianest has no command {args!r} ({token!r})"
            command = command.commands[token]
            continue
        assert token.startswith("--"), f"`medianest {' '.join(args)}`: {token!r} is no flag"
        name = token.split("=", 1)[0]
        options = {opt: p for p in command.params for opt in getattr(p, "opts", [])}
        assert name in options, f"`medianest {' '.join(args)}`: {name!r} is no flag of it"
        option = options[name]
        if isinstance(option, click.Option) and not option.is_flag and "=" not in token:
            tokens.pop(0)
    assert not isinstance(command, click.Group), f"`medianest {' '.join(args)}` is a group"
    return command


def _medianest_args(command: list[str]) -> list[str] | None:
    """The arguments of a ``medianest ...`` command line (``None`` for another program)."""
    if command[:1] == ["CMD"]:
        command = command[1:]
    return command[1:] if command[:1] == ["medianest"] else None


def _containers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for obj in kubernetes_objects():
        spec = pod_spec(obj)
        for container in (spec or {}).get("containers", []):
            found.append((f"{obj['kind']}/{obj['metadata']['name']}", container))
    return found


def _probes(container: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        container[key]
        for key in ("startupProbe", "livenessProbe", "readinessProbe")
        if key in container
    ]


# -- the image ---------------------------------------------------------------------------------


def test_the_image_runs_the_medianest_command_and_serves_by_default() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert _exec_form("ENTRYPOINT") == ["medianest"]
    assert "medianest" in scripts
    check_command(_exec_form("CMD"))
    assert _exec_form("CMD") == ["serve"]


def test_the_image_sets_only_settings_that_exist_and_they_load(tmp_path, monkeypatch) -> None:
    settings = _load(IMAGE_ENV, {}, tmp_path, monkeypatch)
    assert settings.mode == "embedded"
    assert str(settings.data_dir) == "/data"
    assert settings.server.host == "0.0.0.0"


def test_the_image_listens_on_the_port_it_exposes_and_runs_as_a_user() -> None:
    [expose] = [i.text for i in final_stage(INSTRUCTIONS) if i.keyword == "EXPOSE"]
    assert expose == IMAGE_ENV["MEDIANEST_SERVER__PORT"] == "8080"
    [user] = [i.text for i in final_stage(INSTRUCTIONS) if i.keyword == "USER"]
    uid, _, gid = user.partition(":")
    assert int(uid) >= 1000 and int(gid) >= 1000


def test_the_image_builds_every_bundled_plugin() -> None:
    [wheel_step] = [i.text for i in INSTRUCTIONS if i.keyword == "RUN" and "pip wheel" in i.text]
    built = {arg.rstrip("/") for arg in wheel_step.split() if arg.startswith("./plugins/")}
    bundled = {f"./plugins/{p.parent.name}" for p in (ROOT / "plugins").glob("*/pyproject.toml")}
    assert built == bundled
    assert "--constraint constraints.txt" in wheel_step


def test_the_final_stage_has_no_compiler_and_no_pip_cache() -> None:
    final = " ".join(i.text for i in final_stage(INSTRUCTIONS) if i.keyword == "RUN")
    assert "apt-get" not in final and "gcc" not in final
    assert "--no-index" in final
    assert IMAGE_ENV["PIP_NO_CACHE_DIR"] == "1"


def test_the_build_context_lets_in_what_the_dockerfile_copies() -> None:
    ignore = (DOCKER / ".dockerignore").read_text()
    # BuildKit reads the list beside the Dockerfile; the two names must not drift apart.
    assert (DOCKER / "Dockerfile.dockerignore").read_text() == ignore
    allowed = {line[1:].rstrip("/") for line in ignore.splitlines() if line.startswith("!")}
    rules = [line for line in ignore.splitlines() if line and not line.startswith("#")]
    assert rules[0] == "*", "the list starts by leaving everything out"
    for ins in INSTRUCTIONS:
        if ins.keyword != "COPY" or "--from" in ins.text:
            continue
        sources = [part for part in ins.text.split() if not part.startswith("--")][:-1]
        for source in sources:
            assert source.rstrip("/") in allowed, f"COPY {source}: left out of the context"
            assert (ROOT / source).exists(), f"COPY {source}: no such file"


# -- Compose -----------------------------------------------------------------------------------


def test_compose_runs_only_medianest_commands_that_exist() -> None:
    services = medianest_services(compose())
    assert set(services) == {"hub", "migrate", "api", "worker"}
    commands = {name: service["command"] for name, service in services.items()}
    assert commands == {
        "hub": ["serve"],
        "migrate": ["db", "upgrade"],
        "api": ["serve"],
        "worker": ["worker"],
    }
    for name, service in services.items():
        check_command(service["command"])
        test = service.get("healthcheck", {}).get("test")
        if test:
            args = _medianest_args(test)
            assert args is not None, f"{name}'s health check runs no medianest command"
            check_command(args)


def test_compose_profiles_and_the_migration_the_others_wait_for() -> None:
    services = compose()["services"]
    assert services["hub"]["profiles"] == ["embedded"]
    scaled = {name for name, s in services.items() if s["profiles"] == ["scaled"]}
    assert scaled == {"postgres", "redis", "migrate", "api", "worker", "lb"}
    for name in ("api", "worker"):
        assert services[name]["deploy"]["replicas"] == 2
        waits = services[name]["depends_on"]
        assert waits["migrate"] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name, service in services.items():
        if name != "migrate":
            assert "healthcheck" in service or name in ("hub", "api"), name  # image's own


def _secret_files(document: dict[str, Any], service: dict[str, Any], target: Path) -> None:
    """Copy the secrets ``service`` mounts from where make-secrets.sh wrote them."""
    target.mkdir()
    for name in service.get("secrets", []):
        source = Path(document["secrets"][name]["file"])
        assert source.parts[:2] == (".", "secrets") or source.parts[0] == "secrets", source
        shutil.copy(target.parent / "docker" / source, target / name)


@pytest.fixture
def made_secrets(tmp_path) -> Path:
    """docker/ as a copy whose secrets make-secrets.sh wrote (the real folder is left alone)."""
    copy = tmp_path / "docker"
    (copy / "compose").mkdir(parents=True)
    shutil.copy(DOCKER / "compose" / "make-secrets.sh", copy / "compose")
    subprocess.run(["sh", str(copy / "compose" / "make-secrets.sh")], check=True, timeout=60)
    return tmp_path


def test_compose_scaled_settings_load_as_a_scaled_hub(made_secrets, monkeypatch) -> None:
    document = compose()
    names = {"secret_key", "database_url"}
    for service_name in ("migrate", "api", "worker"):
        service = document["services"][service_name]
        assert set(service["secrets"]) == names, service_name
        secrets_dir = made_secrets / f"secrets-{service_name}"
        _secret_files(document, service, secrets_dir)
        settings = _load_with_dir({**IMAGE_ENV, **service["environment"]}, secrets_dir, monkeypatch)
        assert settings.mode == "scaled"
        assert settings.redis_url == "redis://redis:6379/0"
        database = settings.database_url or ""
        password = (made_secrets / "docker" / "secrets" / "postgres_password").read_text()
        assert database == f"postgres://medianest:{password.strip()}@postgres:5432/medianest"
        assert settings.secret_key is not None
    services = document["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == (
        "/run/secrets/postgres_password"
    )


def test_compose_embedded_keeps_its_database_in_the_volume(tmp_path, monkeypatch) -> None:
    hub = compose()["services"]["hub"]
    settings = _load({**IMAGE_ENV, **hub["environment"]}, {}, tmp_path, monkeypatch)
    assert settings.mode == "embedded"
    mounts = {volume.split(":")[1] for volume in hub["volumes"]}
    assert str(settings.data_dir) in mounts
    assert hub["ports"] == [f"8080:{IMAGE_ENV['MEDIANEST_SERVER__PORT']}"]


def test_the_load_balancer_sends_to_the_api_port() -> None:
    conf = (DOCKER / "compose" / "nginx.conf").read_text()
    assert f"http://api:{IMAGE_ENV['MEDIANEST_SERVER__PORT']}" in conf
    assert "proxy_set_header Upgrade $http_upgrade" in conf  # the live WebSocket


# -- Kubernetes --------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_and_the_image() -> None:
    import yaml

    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in kubernetes_files()]
    [image] = kustomization["images"]
    assert image["name"] == MEDIANEST_IMAGE
    for where, container in _containers():
        assert container["image"] == MEDIANEST_IMAGE, where


def test_kubernetes_runs_only_medianest_commands_that_exist() -> None:
    ran = {}
    for where, container in _containers():
        assert "command" not in container, f"{where} replaces the image's entry point"
        check_command(container["args"])
        ran[where] = container["args"]
        for probe in _probes(container):
            if "exec" in probe:
                args = _medianest_args(probe["exec"]["command"])
                assert args is not None, where
                check_command(args)
    assert ran == {
        "Job/medianest-migrate": ["db", "upgrade"],
        "Deployment/medianest-api": ["serve"],
        "Deployment/medianest-worker": ["worker"],
    }


def test_kubernetes_settings_load_as_a_scaled_hub(tmp_path, monkeypatch) -> None:
    config = named("ConfigMap", "medianest")["data"]
    secret = named("Secret", "medianest")["stringData"]
    secrets_dir = config["MEDIANEST_SECRETS_DIR"]
    for where, container in _containers():
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert secrets_dir in mounts, f"{where} does not mount the Secret where it is read"
        assert container["envFrom"] == [{"configMapRef": {"name": "medianest"}}], where
    environ = {**IMAGE_ENV, **config}
    environ.pop("MEDIANEST_SECRETS_DIR")
    settings = _load(environ, secret, tmp_path, monkeypatch)
    assert settings.mode == "scaled"
    assert (settings.redis_url or "").startswith("rediss://")
    assert "sslmode=" in (settings.database_url or "")
    assert settings.server.public_url == "https://media.example.org"
    host = named("Ingress", "medianest")["spec"]["rules"][0]["host"]
    assert settings.server.public_url == f"https://{host}"
    notice = named("Secret", "medianest")["metadata"]["annotations"]["medianest.example/notice"]
    assert "example values only" in notice


def test_kubernetes_pods_are_locked_down() -> None:
    for obj in kubernetes_objects():
        spec = pod_spec(obj)
        if spec is None:
            continue
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["automountServiceAccountToken"] is False, where
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert container["resources"]["limits"] and container["resources"]["requests"]


def test_the_api_deployment_drains_before_it_stops() -> None:
    api = named("Deployment", "medianest-api")
    spec = api["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert api["spec"]["replicas"] == 3
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    sock = bind_socket("127.0.0.1", 0)
    try:
        drain = hypercorn_config(sock).graceful_timeout
    finally:
        sock.close()
    longest_request = Settings().search.timeout_seconds
    assert spec["terminationGracePeriodSeconds"] > int(pre_stop[1]) + drain + longest_request
    port = container["ports"][0]
    assert str(port["containerPort"]) == IMAGE_ENV["MEDIANEST_SERVER__PORT"]
    anti = spec["affinity"]["podAntiAffinity"]
    assert anti["preferredDuringSchedulingIgnoredDuringExecution"]


def test_services_budgets_and_autoscaler_select_the_pods_that_exist() -> None:
    labels = {
        obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["labels"]
        for obj in of_kind("Deployment")
    }

    def selects(selector: dict[str, str]) -> list[str]:
        return [name for name, have in labels.items() if selector.items() <= have.items()]

    service = named("Service", "medianest-api")
    assert selects(service["spec"]["selector"]) == ["medianest-api"]
    for budget in of_kind("PodDisruptionBudget"):
        assert selects(budget["spec"]["selector"]["matchLabels"]) == [budget["metadata"]["name"]]
    [hpa] = of_kind("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] in labels
    assert hpa["spec"]["minReplicas"] == named("Deployment", "medianest-api")["spec"]["replicas"]
    backend = named("Ingress", "medianest")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == "medianest-api"
    assert backend["service"]["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    annotations = named("Ingress", "medianest")["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600


def test_the_worker_liveness_allows_for_a_silent_worker_setting() -> None:
    worker = named("Deployment", "medianest-worker")
    [container] = worker["spec"]["template"]["spec"]["containers"]
    probe = container["livenessProbe"]
    assert probe["exec"]["command"] == ["medianest", "worker", "--health-check"]
    assert probe["periodSeconds"] >= Settings().jobs.heartbeat_seconds


# -- helpers -----------------------------------------------------------------------------------


def _load_with_dir(environ: dict[str, str], secrets_dir: Path, monkeypatch) -> Settings:
    import os

    for name in list(os.environ):
        if name.upper().startswith("MEDIANEST_"):
            monkeypatch.delenv(name)
    for key, value in environ.items():
        if key.startswith("MEDIANEST_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("MEDIANEST_SECRETS_DIR", str(secrets_dir))
    monkeypatch.chdir(secrets_dir.parent)
    return load_settings()


def _load(
    environ: dict[str, str], secrets: dict[str, str], tmp_path: Path, monkeypatch
) -> Settings:
    """The settings a container with ``environ`` and these secret files gets."""
    secrets_dir = tmp_path / "run-secrets"
    secrets_dir.mkdir()
    for name, value in secrets.items():
        assert name in Settings.model_fields, f"secret {name!r} is no setting"
        (secrets_dir / name).write_text(value + "\n")
    return _load_with_dir(environ, secrets_dir, monkeypatch)


def test_secret_names_are_settings() -> None:
    document = compose()
    for name in medianest_services(document):
        for secret in document["services"][name].get("secrets", []):
            assert secret in Settings.model_fields, f"{name} mounts {secret!r}: no setting"
    for key in named("Secret", "medianest")["stringData"]:
        assert key in Settings.model_fields
    assert re.fullmatch(
        r"/run/secrets(/\w+)?", named("ConfigMap", "medianest")["data"]["MEDIANEST_SECRETS_DIR"]
    )
