"""The approval page standing in for app.plex.tv/auth."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from plex_sim_support import CLIENT_ID

from medianest_plex.simulator import PlexWorld, RunningSimulator
from medianest_plex.simulator.authpage import SCRIPT, render_page

# A minimal DOM for the page script: two account buttons, the product and status elements,
# a recording fetch() that approves, and a recording location.assign().
DOM_HARNESS = """
const script = require("fs").readFileSync(process.argv[2], "utf8");
const log = [];
function el() { return { textContent: "", disabled: false, dataset: {}, listeners: {},
  addEventListener(type, f) { this.listeners[type] = f; } }; }
const product = el(), status = el();
const buttons = ["owner", "friend1"].map(k => { const b = el(); b.dataset.account = k; return b; });
global.window = { location: { hash: process.argv[3], href: "http://127.0.0.1:1/auth",
  assign(url) { log.push(["assign", url]); } } };
global.document = { getElementById: id => id === "product" ? product : status,
  querySelectorAll: () => buttons };
global.fetch = (url, opts) => { log.push(["fetch", url, JSON.parse(opts.body)]);
  return Promise.resolve({ ok: true, json: () => Promise.resolve({ title: "Friend" }) }); };
eval(script);
if (buttons[1].listeners.click) { buttons[1].listeners.click(); }
setTimeout(() => console.log(JSON.stringify({ product: product.textContent,
  status: status.textContent, log })), 20);
"""


async def test_page_lists_every_account_and_is_locked_down(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    response = await http.get(sim.auth_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp
    assert "unsafe-inline" not in csp
    for key in ("owner", "friend1", "friend2", "managed", "stranger"):
        assert f'data-account="{key}"' in response.text
    assert "location.hash" in response.text and "textContent" in response.text
    assert "innerHTML" not in response.text


def test_account_names_are_escaped() -> None:
    world = PlexWorld(items=0)
    world.accounts["friend1"].title = '<img src=x onerror="alert(1)">'
    page = render_page(world)
    assert "<img" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


async def test_approval_by_code_hands_the_token_to_the_poller(
    sim: RunningSimulator, http: httpx.AsyncClient, plextv: httpx.AsyncClient
) -> None:
    pin = (await plextv.post("/pins", params={"strong": "true"})).json()
    approved = await http.post(
        f"{sim.plextv_url}/auth/approve",
        json={"code": pin["code"], "clientID": CLIENT_ID, "account": "friend2"},
    )
    assert approved.status_code == 200 and approved.json()["account"] == "friend2"
    polled = (await plextv.get(f"/pins/{pin['id']}")).json()
    assert polled["authToken"] == sim.world.accounts["friend2"].token


async def test_approval_accepts_a_form_post(
    sim: RunningSimulator, http: httpx.AsyncClient, plextv: httpx.AsyncClient
) -> None:
    pin = (await plextv.post("/pins")).json()
    approved = await http.post(
        f"{sim.plextv_url}/auth/approve", data={"code": pin["code"], "account": "stranger"}
    )
    assert approved.status_code == 200


async def test_approval_errors(
    sim: RunningSimulator, http: httpx.AsyncClient, plextv: httpx.AsyncClient
) -> None:
    url = f"{sim.plextv_url}/auth/approve"
    pin = (await plextv.post("/pins")).json()
    cases = [
        ({"code": "NOPE", "account": "owner"}, 404),
        ({"code": pin["code"], "account": "mallory"}, 400),
        ({"code": pin["code"], "account": "owner", "clientID": "other"}, 400),
        ({"account": "owner"}, 400),
    ]
    for body, status in cases:
        response = await http.post(url, json=body)
        assert response.status_code == status, body
        assert response.json()["error"]
    garbage = await http.post(url, content=b"\xff{", headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400
    assert (await plextv.get(f"/pins/{pin['id']}")).json()["authToken"] is None


def run_page_script(tmp_path: Path, fragment: str) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the page script is checked where it is")
    (tmp_path / "page.js").write_text(SCRIPT)
    (tmp_path / "harness.js").write_text(DOM_HARNESS)
    done = subprocess.run(
        [node, str(tmp_path / "harness.js"), str(tmp_path / "page.js"), fragment],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.slow  # runs a process of its own
def test_page_script_reads_the_fragment_and_forwards(tmp_path: Path) -> None:
    fragment = (
        "#?clientID=abc&code=XYZW&context%5Bdevice%5D%5Bproduct%5D=Media%3Cb%3ENest"
        "&forwardUrl=http%3A%2F%2Flocalhost%3A8000%2Fdone"
    )
    result = run_page_script(tmp_path, fragment)
    assert result["product"] == "Media<b>Nest"  # shown as text, never parsed as HTML
    assert result["log"] == [
        ["fetch", "/auth/approve", {"code": "XYZW", "clientID": "abc", "account": "friend1"}],
        ["assign", "http://localhost:8000/done"],
    ]


@pytest.mark.slow  # runs a process of its own
def test_page_script_refuses_script_urls_and_missing_codes(tmp_path: Path) -> None:
    hostile = run_page_script(tmp_path, "#?code=XYZW&forwardUrl=javascript%3Aalert(1)")
    assert [entry[0] for entry in hostile["log"]] == ["fetch"]
    assert "You can close this window" in hostile["status"]
    empty = run_page_script(tmp_path, "#?clientID=abc")
    assert empty["log"] == [] and "no PIN code" in empty["status"]
