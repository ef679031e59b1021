"""The OpenAPI document says exactly what the server does: a schemathesis run over every
operation, as anonymous, as a user and as an admin, against a hub served over real HTTP with
demo-like data (signed-in callers, a synced fake library).

It fails on any 5xx, any answer whose status code, content type, headers or body the document
does not give, any request the document forbids that is let through, and any request the
document allows that is refused without a reason it gives. The figures of each run (cases,
failures by kind, an example of each) are printed and written to
``build/schemathesis-<role>.txt``.

Bounded: a fixed number of examples per operation and generation mode, derandomized.
``CONTRACT_MAX_EXAMPLES`` raises the number for a longer local run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.contract_run import Figures, load_schema, run_operations
from tests.served_hub import ServedHub, served_hub

MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "12"))
FIGURES_DIR = Path(__file__).resolve().parent.parent / "build"
OWN_SESSION = {"POST /api/v1/auth/sign-out-everywhere", "POST /api/v1/auth/sign-out"}
"""Operations that end the caller's session: each example gets a session of its own."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    with served_hub(tmp_path_factory.mktemp("contract")) as hub:
        yield hub


@pytest.fixture(scope="module")
def schema(served: ServedHub) -> Any:
    document = served.app.extensions["QUART_SCHEMA"].openapi_provider.schema()
    return load_schema(document)


def _headers_for(served: ServedHub, role: str | None):
    if role is None:
        return lambda label: {}
    shared = served.caller(role)  # type: ignore[arg-type]

    def headers(label: str) -> dict[str, str]:
        # A caller per operation: what one operation does to its caller (an admin editing
        # users, a sign-out) does not change the answers of the next.
        return served.caller(role) if label in OWN_SESSION else shared  # type: ignore[arg-type]

    return headers


def _report(role: str, figures: Figures) -> str:
    text = figures.report(f"schemathesis as {role}")
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / f"schemathesis-{role}.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    return text


@pytest.mark.parametrize("role", ["anonymous", "user", "admin"])
def test_every_operation_answers_as_documented(served: ServedHub, schema: Any, role: str) -> None:
    figures = run_operations(
        schema,
        served.url,
        _headers_for(served, None if role == "anonymous" else role),
        max_examples=MAX_EXAMPLES,
    )
    text = _report(role, figures)
    assert figures.cases > 0
    assert not figures.by_kind, text
