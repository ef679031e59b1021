"""The SDK's test kit works in a fresh plugin project: a new virtual environment with only
``medianest[testing]`` and a tiny plugin installed, the plugin's own tests run by pytest
there, borrowing nothing from this repository's test setup."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PYPROJECT = """
[build-system]
requires = ["setuptools>=77", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "medianest-tiny"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["medianest"]

[project.entry-points."medianest.plugins"]
tiny = "medianest_tiny.plugin"

[tool.setuptools.packages.find]
include = ["medianest_tiny*"]

[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
asyncio_default_test_loop_scope = "function"
"""

PLUGIN = '''
from medianest.sdk import (
    HealthStatus, MediaItem, MediaKind, NotFoundError, Page, SearchQuery, SourceCapability,
    SourceRef, decode_cursor, encode_cursor, hookimpl,
)

MEDIANEST_SDK = ">=1.0,<2"

TITLES = ["Quiet River", "Lantern Orbit", "Harbor Winter", "Signal Garden", "River Signal"]


class TinySource:
    """A search-and-library source that declares exactly what it implements."""

    name = "Tiny"
    capabilities = frozenset(
        {SourceCapability.SEARCH, SourceCapability.LIBRARY, SourceCapability.COUNT,
         SourceCapability.HEALTH}
    )

    def __init__(self):
        self.id = "tiny"
        self.items = [
            MediaItem(kind=MediaKind.MOVIE, title=t, ref=SourceRef(source="tiny", item_id=str(i)))
            for i, t in enumerate(TITLES, start=1)
        ]

    async def get_item(self, item_id):
        for item in self.items:
            if item.ref.item_id == item_id:
                return item
        raise NotFoundError(f"no item {item_id!r}", plugin="tiny")

    async def search(self, query: SearchQuery):
        return [i for i in self.items if query.text.lower() in i.title.lower()][: query.limit]

    async def list_library(self, cursor, limit):
        start = decode_cursor(cursor)["o"] if cursor else 0
        end = start + limit
        following = encode_cursor({"o": end}) if end < len(self.items) else None
        return Page(items=self.items[start:end], next_cursor=following, total=len(self.items))

    async def count(self):
        return len(self.items)

    async def health(self):
        return HealthStatus(ok=True, detail=f"{len(self.items)} items")


@hookimpl
def register_media_sources():
    return [TinySource()]
'''

TESTS = """
import pytest

from medianest.sdk import SettingsError
from medianest.sdk.testing import MediaSourceContract
from medianest_tiny import plugin


class TestTinySource(MediaSourceContract):
    @pytest.fixture
    async def media_source(self):
        return plugin.TinySource()


async def test_the_hub_loads_the_plugin(medianest_hub):
    async with medianest_hub.run({"tiny": plugin}) as hub:
        response = await hub.client.get("/health/ready")
        assert response.status_code == 200
        names = [c["name"] for c in (await response.get_json())["components"]]
        assert "tiny" in names


async def test_bad_settings_stop_the_hub(medianest_hub):
    with pytest.raises(SettingsError):
        async with medianest_hub.run({"tiny": plugin}, plugins={"tiny": {"x": 1}}):
            pass
"""


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_the_kit_runs_in_a_fresh_plugin_project(tmp_path: Path) -> None:
    project = tmp_path / "medianest-tiny"
    (project / "medianest_tiny").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (project / "medianest_tiny" / "__init__.py").write_text("")
    (project / "medianest_tiny" / "plugin.py").write_text(PLUGIN)
    (project / "tests" / "test_tiny.py").write_text(TESTS)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MEDIANEST_", "PYTEST", "VIRTUAL_ENV", "PYTHONPATH", "CI"))
    }
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    installed = _run(
        [
            python, "-m", "pip", "install", "--quiet",
            "-c", str(ROOT / "constraints.txt"),
            f"{ROOT}[testing]", str(project), "import-linter",
        ],
        tmp_path,
        env,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    ran = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, env)
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    summary = ran.stdout.strip().splitlines()[-1]
    # 10 contract tests + 2 of the hub; changes, recently added and pictures are not declared:
    # skipped.
    assert re.match(r"12 passed, 3 skipped in ", summary), summary
    shown = _run([python, "-m", "pip", "show", "pytest-asyncio"], tmp_path, env)
    assert shown.returncode == 0, "pytest-asyncio comes with medianest[testing]"

    # The guide's import-linter snippet, as written, passes a plugin that imports only the
    # SDK and catches one that reaches into core.
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n" + guide_import_linter_snippet().replace("jellyfin", "tiny"))
    lint = str(venv / "bin" / "lint-imports")
    clean = _run([lint], project, env)
    assert clean.returncode == 0, clean.stdout[-3000:] + clean.stderr[-2000:]
    assert "1 kept, 0 broken" in clean.stdout
    (project / "medianest_tiny" / "sneaky.py").write_text("from medianest.core import hub\n")
    broken = _run([lint], project, env)
    assert broken.returncode == 1, broken.stdout[-3000:] + broken.stderr[-2000:]
    assert "medianest_tiny.sneaky -> medianest.core.hub" in broken.stdout


def guide_import_linter_snippet() -> str:
    """The TOML block that follows the ``<!-- import-linter -->`` mark in the guide."""
    guide = (ROOT / "docs" / "writing-plugins.md").read_text()
    after = guide.split("<!-- import-linter -->", 1)[1]
    return after.split("```toml\n", 1)[1].split("```", 1)[0]
