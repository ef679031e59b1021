"""Request and response helpers shared by the simulated plex.tv and PMS routes."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from quart import Request, Response

from medianest_plex.simulator.render import Element, dict_to_element, list_to_xml, to_json, to_xml

JSON_TYPE = "application/json"
XML_TYPE = "application/xml"
HTML_TYPE = "text/html; charset=utf-8"


def wants_json(request: Request) -> bool:
    """PMS rule: JSON only when ``Accept`` asks for ``application/json``; XML otherwise."""
    return JSON_TYPE in request.headers.get("Accept", "")


def wants_xml(request: Request) -> bool:
    """plex.tv v2 rule, the same as PMS's: XML unless ``Accept`` asks for JSON (python-plexapi
    sends no ``Accept`` of its own and parses the XML plex.tv answers it)."""
    return not wants_json(request)


def plex_param(request: Request, name: str) -> str | None:
    """An ``X-Plex-*`` value from the header or, failing that, the query string."""
    value = request.headers.get(name)
    if value is None or value == "":
        value = request.args.get(name)
    return value or None


def container_response(
    request: Request, root: Element, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A PMS answer: ``root`` as XML, or as JSON when the client asked for it."""
    if wants_json(request):
        body, content_type = to_json(root), "application/json; charset=utf-8"
    else:
        body, content_type = to_xml(root), "application/xml; charset=utf-8"
    response = Response(body, status=status, content_type=content_type)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def pms_error(status: int, title: str, detail: str = "") -> Response:
    """A PMS-style HTML error page (PMS answers errors with small HTML documents)."""
    extra = f"<p>{html.escape(detail)}</p>" if detail else ""
    body = (
        f"<html><head><title>{html.escape(title)}</title></head><body>"
        f"<h1>{status} {html.escape(title)}</h1>{extra}</body></html>"
    )
    return Response(body, status=status, content_type=HTML_TYPE)


def plextv_body(
    request: Request, body: Any, *, status: int = 200, root: str = "response", entry: str = "item"
) -> Response:
    """A plex.tv v2 answer: XML, or JSON when the client asked for it."""
    if wants_xml(request):
        if isinstance(body, list):
            data = list_to_xml(root, entry, body)
        else:
            data = to_xml(dict_to_element(root, body))
        return Response(data, status=status, content_type="application/xml; charset=utf-8")
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json; charset=utf-8",
    )


def plextv_error(
    request: Request, status: int, code: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """plex.tv's error shape: ``{"errors": [{"code", "message", "status"}]}``."""
    body = {"errors": [{"code": code, "message": message, "status": status}]}
    if wants_xml(request):
        root = Element("errors", {}, [Element("error", body["errors"][0])])
        response = Response(
            to_xml(root), status=status, content_type="application/xml; charset=utf-8"
        )
    else:
        response = Response(
            json.dumps(body), status=status, content_type="application/json; charset=utf-8"
        )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def json_response(body: Any, status: int = 200) -> Response:
    """A plain JSON answer (control API)."""
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json; charset=utf-8",
    )


def problem(status: int, detail: str) -> Response:
    """A JSON error for the control API and the approval endpoint."""
    return json_response({"error": detail, "status": status}, status)
