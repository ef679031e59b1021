"""Browser tests' machinery: Debian's Chromium driven by Playwright, a served hub, signed-in
pages, accessibility checks (axe-core) and screenshots.

- :func:`chromium_path`: the browser (``MEDIANEST_TEST_CHROMIUM``, default
  ``/usr/bin/chromium``); missing, tests skip saying why, or fail when ``CI`` is set.
- :class:`WebHub`: a served hub (:func:`tests.served_hub.served_hub`) with
  :meth:`WebHub.person` (a new user with a session) and :meth:`WebHub.page_as` (a browser
  page signed in as them through the session cookies a real sign-in sets).
- :func:`check_accessibility`: axe-core over the page; fails on any serious or critical
  violation, naming the rule and the elements.
- :func:`screenshot`: the page at desktop and phone widths under ``build/screenshots/``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page

from medianest.core.db.models import User
from medianest.core.web.session_cookies import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from tests.served_hub import ServedHub
from tests.services import service_missing

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def chromium_path() -> str:
    """The Chromium to drive; skips (fails in CI) when it is not installed."""
    path = os.environ.get("MEDIANEST_TEST_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).is_file():
        service_missing("Chromium", f"no browser at {path} (apt-get install chromium)")
    return path


@dataclass
class Person:
    """A user of the served hub and the tokens of a session of theirs."""

    user_id: int
    username: str
    access_token: str
    refresh_token: str
    csrf_token: str


class WebHub:
    """A served hub and the browser that visits it."""

    def __init__(self, served: ServedHub, browser: Browser) -> None:
        self.served = served
        self.browser = browser
        self.url = served.url

    def person(
        self,
        role: Literal["admin", "user"] = "user",
        *,
        permissions: list[str] | None = None,
        name: str | None = None,
        display_name: str | None = None,
    ) -> Person:
        """A new user of ``role`` (``permissions``: ``None`` for the default) with a session."""
        return self.served.run(_person(self.served.hub, role, permissions, name, display_name))

    def context(
        self,
        *,
        locale: str = "en-US",
        viewport: dict[str, int] | None = None,
        person: Person | None = None,
        color_scheme: Literal["light", "dark"] = "light",
    ) -> BrowserContext:
        """A new browser context (its own cookies), signed in as ``person`` when given."""
        context = self.browser.new_context(
            base_url=self.url,
            locale=locale,
            viewport=viewport or DESKTOP,
            color_scheme=color_scheme,
        )
        if person is not None:
            context.add_cookies(self.cookies(person))
        return context

    def page_as(self, person: Person | None, **options: Any) -> Page:
        """A new page in a new context, signed in as ``person`` (anonymous for ``None``)."""
        return self.context(person=person, **options).new_page()

    def cookies(self, person: Person) -> list[dict[str, Any]]:
        """The session cookies a sign-in sets for ``person`` (as Playwright adds them)."""
        return [
            {
                "name": ACCESS_COOKIE,
                "value": person.access_token,
                "url": self.url,
                "httpOnly": True,
                "sameSite": "Lax",
            },
            {
                "name": REFRESH_COOKIE,
                "value": person.refresh_token,
                "url": f"{self.url}/api/v1/auth",
                "httpOnly": True,
                "sameSite": "Strict",
            },
            {
                "name": CSRF_COOKIE,
                "value": person.csrf_token,
                "url": self.url,
                "sameSite": "Strict",
            },
        ]


async def _person(
    hub: Any,
    role: str,
    permissions: list[str] | None,
    name: str | None,
    display_name: str | None,
) -> Person:
    user = await User.create(
        username=name or f"web-{role}-{secrets.token_hex(4)}",
        display_name=display_name,
        role=role,
        permissions=permissions,
    )
    issued = await hub.sessions.start(user, ip="127.0.0.1", user_agent="browser tests")
    return Person(
        user.id, user.username, issued.access_token, issued.refresh_token, issued.csrf_token
    )


_AXE = Axe()


def check_accessibility(page: Page, name: str) -> None:
    """Run axe-core on ``page``; fail on serious or critical violations (``name`` says which
    page, in the message)."""
    results = _AXE.run(page)
    blocking = [
        violation
        for violation in results.response["violations"]
        if violation.get("impact") in BLOCKING_IMPACTS
    ]
    if blocking:
        lines = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(node["target"]) for node in v["nodes"][:5])
            for v in blocking
        ]
        raise AssertionError(f"accessibility violations on {name}:\n" + "\n".join(lines))


def screenshot(page: Page, name: str) -> list[Path]:
    """Save ``page`` at desktop and phone widths as ``build/screenshots/<name>-<width>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    saved = []
    original = page.viewport_size or DESKTOP
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    page.set_viewport_size(original)
    print(f"screenshots: {', '.join(str(p.relative_to(ROOT)) for p in saved)}")
    return saved
