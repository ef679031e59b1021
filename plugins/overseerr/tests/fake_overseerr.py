"""A scripted Overseerr for unit tests (``httpx.MockTransport``), answering with recorded
shapes; the full behaviour is the simulator's, used by the other tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from overseerr_testkit import SpecCheckingTransport, request_json, user_json

from medianest_overseerr.client import OverseerrClient
from medianest_overseerr.settings import InstanceSettings

API_KEY = "fake-overseerr-api-key-0123456789"
BASE_URL = "http://127.0.0.1:5055"


def instance(**overrides: Any) -> InstanceSettings:
    """The instance ``home`` at the fake's address."""
    values: dict[str, Any] = {"name": "home", "url": BASE_URL, "api_key": API_KEY}
    return InstanceSettings(**(values | overrides))


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


@dataclass
class FakeOverseerr:
    """Users, requests and canned failures; every request it receives passed the spec check."""

    users: list[dict[str, Any]] = field(
        default_factory=lambda: [
            user_json(1, plex_id=1, email="owner@example.org"),
            user_json(2, plex_id=9001, email="ann@example.org"),
            user_json(3, plex_id=None, email="bob@example.org"),
        ]
    )
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: httpx.Response | None = None
    seen: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> SpecCheckingTransport:
        return SpecCheckingTransport(httpx.MockTransport(self.handle))

    def client(self, **overrides: Any) -> tuple[OverseerrClient, SpecCheckingTransport]:
        transport = self.transport()
        return OverseerrClient(instance(**overrides), transport=transport), transport

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if self.fail_with is not None:
            return self.fail_with
        if request.headers.get("X-Api-Key") != API_KEY:
            return _json(
                403, {"status": 403, "error": "You do not have permission to access this endpoint"}
            )
        path = request.url.path.removeprefix("/api/v1")
        query = dict(parse_qsl(request.url.query.decode()))
        acting = int(request.headers.get("X-Api-User", "1"))
        if path == "/status":
            return _json(
                200,
                {
                    "version": "1.33.2",
                    "commitTag": "local",
                    "updateAvailable": False,
                    "commitsBehind": 0,
                    "restartRequired": False,
                },
            )
        if path == "/auth/me":
            return _json(200, next(u for u in self.users if u["id"] == acting))
        if path == "/user" and request.method == "GET":
            take, skip = int(query.get("take", 10)), int(query.get("skip", 0))
            page = self.users[skip : skip + take]
            info = {"pages": 1, "pageSize": take, "results": len(self.users), "page": 1}
            return _json(200, {"pageInfo": info, "results": page})
        if path == "/user" and request.method == "POST":
            body = json.loads(request.content)
            user = user_json(len(self.users) + 1, email=body["email"])
            self.users.append(user)
            return _json(201, user)
        if path == "/request" and request.method == "POST":
            body = json.loads(request.content)
            if any(r["media"]["tmdbId"] == body["mediaId"] for r in self.requests):
                return _json(409, {"message": "Request for this media already exists."})
            user = next(u for u in self.users if u["id"] == acting)
            created = request_json(
                len(self.requests) + 1,
                tmdb=body["mediaId"],
                media_type=body["mediaType"],
                user=user,
            )
            self.requests.append(created)
            return _json(201, created)
        if path == "/request" and request.method == "GET":
            take, skip = int(query.get("take", 10)), int(query.get("skip", 0))
            rows = sorted(self.requests, key=lambda r: r["id"], reverse=True)
            if "requestedBy" in query:
                rows = [r for r in rows if r["requestedBy"]["id"] == int(query["requestedBy"])]
            info = {"pages": 1, "pageSize": take, "results": len(rows), "page": 1}
            return _json(200, {"pageInfo": info, "results": rows[skip : skip + take]})
        return _json(404, {"message": "Not Found", "errors": []})
