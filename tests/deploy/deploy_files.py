"""Reading the deployment files (docker/) the way Docker, Compose and Kubernetes read them:
the Dockerfile's instructions, the Compose file with its variables interpolated, and the
Kubernetes manifests."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE_FILE = DOCKER / "compose.yaml"
KUBERNETES = DOCKER / "kubernetes"
KUBERNETES_VERSION = "1.30.0"

MEDIANEST_IMAGE = "medianest"
"""The image name the Kubernetes manifests use (kustomization.yaml sets its tag)."""


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case) and its text after it."""

    keyword: str
    text: str


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions, continuation lines joined, comments and parser directives left out."""
    instructions: list[Instruction] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        keyword, _, text = whole.partition(" ")
        instructions.append(Instruction(keyword.upper(), text.strip()))
    return instructions


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    """The instructions of the last stage (the image that ships)."""
    starts = [i for i, ins in enumerate(instructions) if ins.keyword == "FROM"]
    return instructions[starts[-1] :]


def image_environment(instructions: list[Instruction]) -> dict[str, str]:
    """The ENV variables the final stage sets (``KEY=value`` pairs)."""
    environment: dict[str, str] = {}
    for ins in final_stage(instructions):
        if ins.keyword == "ENV":
            for pair in shlex.split(ins.text):
                key, _, value = pair.partition("=")
                environment[key] = value
    return environment


_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: Any, environ: dict[str, str] | None = None) -> Any:
    """``value`` with Compose's ``${NAME}`` and ``${NAME:-default}`` replaced, recursively."""
    environ = environ or {}
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [interpolate(item, environ) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, environ) for key, item in value.items()}
    return value


def compose() -> dict[str, Any]:
    """The Compose file, anchors merged and variables at their defaults."""
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return interpolate(document)


def medianest_services(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The Compose services that run the MediaNest image."""
    return {
        name: service
        for name, service in document["services"].items()
        if service.get("build", {}).get("dockerfile") == "docker/Dockerfile"
    }


def kubernetes_files() -> list[Path]:
    """The manifests (every YAML file but kustomize's own)."""
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def kubernetes_objects() -> list[dict[str, Any]]:
    """Every object of every manifest."""
    objects: list[dict[str, Any]] = []
    for path in kubernetes_files():
        objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return objects


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template's spec of a Deployment or Job (``None`` for other kinds)."""
    if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        spec: dict[str, Any] = obj["spec"]["template"]["spec"]
        return spec
    return None


def of_kind(kind: str) -> list[dict[str, Any]]:
    """The objects of one kind."""
    return [obj for obj in kubernetes_objects() if obj["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    """The one object of ``kind`` called ``name``."""
    [obj] = [obj for obj in of_kind(kind) if obj["metadata"]["name"] == name]
    return obj
