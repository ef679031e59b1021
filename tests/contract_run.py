"""A bounded schemathesis run over the hub's whole OpenAPI document, against a served hub.

Every operation is called with generated requests (schema-valid ones, and ones the schema
forbids), as one caller, a fixed number of examples each, derandomized so a run is repeatable.
Each answer is checked by schemathesis (no 5xx; status code, content type, headers and body
as documented; invalid requests refused) and by :func:`refused_without_reason`. Failures are
collected by kind rather than stopping at the first, so one run reports them all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
import requests
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi import checks as openapi_checks

SCHEMATHESIS_CHECKS = (
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
)
DOCUMENTED_REFUSALS = {
    401: {"unauthenticated", "authentication_failed"},
    403: {"permission_denied", "csrf_failed", "quota_exceeded"},
    409: {
        "conflict",
        "already_requested",
        "already_available",
        "account_not_linked",
        "invalid_transition",
    },
    422: {"sync_unsupported", "invalid_address"},
}
"""Codes of the 4xx answers that a schema-valid request may get, by status: the reasons the
document gives (no sign-in, a missing permission, a state that forbids it); and a 404 where
the document gives one (what the path names does not exist); a destination its notifier
refuses (only the notifier knows what it accepts). Any other refusal of a
schema-valid request means the document misses a constraint the server enforces."""
OPAQUE_FIELDS = {"cursor", "source", "sources", "expires_at"}
"""Fields whose valid values only the server knows (a page's ``next_cursor``, the ids of the
sources it has, a time still to come): a generated one is refused with 400 naming the field,
as the document says."""
RELATED_FIELDS = {"parent", "since", "year", "year_from"}
"""Fields bound by a rule between parameters that the document states in their descriptions
(``parent`` with exactly one ``source``; ``since`` before ``until``; ``year`` or a range,
``year_from`` up to ``year_to``): breaking it is a 400 naming the field."""


@dataclass
class Figures:
    """What one run did: cases sent, failures by kind, and one example of each failure."""

    cases: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)

    def record(self, kind: str, operation: str, message: str) -> None:
        self.by_kind[kind] += 1
        self.examples.setdefault((kind, operation), message)

    def report(self, title: str) -> str:
        lines = [f"{title}: {self.cases} cases, {sum(self.by_kind.values())} failures"]
        lines += [f"  {kind}: {count}" for kind, count in sorted(self.by_kind.items())]
        for (kind, operation), message in sorted(self.examples.items()):
            lines.append(f"  - [{kind}] {operation}: {message[:600]}")
        return "\n".join(lines)


def refused_without_reason(response: requests.Response, documented: dict) -> str | None:
    """Why a 4xx answer to a schema-valid request is not one the document gives, or None."""
    status = response.status_code
    if not 400 <= status < 500 or (status == 404 and "404" in documented):
        return None
    try:
        body = response.json()
    except ValueError:
        return f"{status} without a problem body"
    code = body.get("code") if isinstance(body, dict) else None
    if code in DOCUMENTED_REFUSALS.get(status, set()):
        return None
    fields = {item.get("field") for item in body.get("errors") or [] if isinstance(item, dict)}
    if status == 400 and fields and fields <= OPAQUE_FIELDS | RELATED_FIELDS:
        return None
    return f"{status} {code}: {body.get('detail')}"


def load_schema(document: dict[str, Any]) -> Any:
    """The schemathesis schema of ``document``."""
    return schemathesis.openapi.from_dict(document)


def run_operations(
    schema: Any,
    base_url: str,
    headers_for: Any,
    *,
    max_examples: int,
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
) -> Figures:
    """Call every operation of ``schema`` on ``base_url`` with generated requests.

    :param headers_for: called with each operation's label, answers the headers to send (the
        caller's credentials), so an operation that ends a session gets one of its own.
    """
    figures = Figures()
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes:
            _run_operation(operation, mode, base_url, headers_for, session, figures, max_examples)
    return figures


def _run_operation(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    headers_for: Any,
    session: requests.Session,
    figures: Figures,
    max_examples: int,
) -> None:
    label = operation.label
    headers = headers_for(label)

    @hypothesis.settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        report_multiple_bugs=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: Any) -> None:
        figures.cases += 1
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        except requests.RequestException as exc:
            figures.record("connection_error", label, f"{type(exc).__name__}: {exc}")
            return
        try:
            case.validate_response(response, checks=list(SCHEMATHESIS_CHECKS), headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                figures.record(_kind(failure), label, _describe(case, response, failure))
        documented = case.operation.definition.raw.get("responses", {})
        if str(response.status_code) not in documented:
            figures.record(
                "undocumented_status", label, f"{response.status_code} ← {_request(case)}"
            )
        if mode is GenerationMode.POSITIVE:
            reason = refused_without_reason(response, documented)
            if reason is not None:
                figures.record("positive_refused", label, f"{reason} ← {_request(case)}")

    try:
        exercise()
    except hypothesis.errors.Unsatisfiable:
        # Nothing to generate: a negative run of an operation that takes no input at all.
        if mode is GenerationMode.POSITIVE:
            raise


def _kind(failure: Failure) -> str:
    return type(failure).__name__


def _describe(case: Any, response: requests.Response, failure: Failure) -> str:
    title = getattr(failure, "title", "") or ""
    return f"{title} ({response.status_code}) ← {_request(case)}"


def _request(case: Any) -> str:
    parts = [f"{case.method} {case.formatted_path}"]
    if case.query:
        parts.append(f"query={case.query!r}")
    if case.body is not None and not isinstance(case.body, type(schemathesis.core.NOT_SET)):
        parts.append(f"body={str(case.body)[:200]!r}")
    return " ".join(parts)
