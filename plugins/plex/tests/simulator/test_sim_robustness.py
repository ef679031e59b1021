"""Bad input never produces a 500, every XML answer parses, and the spec check has teeth."""

from __future__ import annotations

import httpx
import pytest
from lxml import etree
from openapi_core import OpenAPI
from plex_sim_specs import SpecMismatch, validate
from plex_sim_support import JSON

from medianest_plex.simulator import RunningSimulator

PMS_PATHS = [
    "/",
    "/identity",
    "/library/sections",
    "/library/sections/1/all",
    "/library/sections/2/all",
    "/library/metadata/101",
    "/library/metadata/101/children",
    "/library/recentlyAdded",
    "/hubs/search?query=the",
    "/status/sessions",
    "/status/sessions/history/all",
]

HOSTILE_QUERIES = [
    "X-Plex-Container-Start=99999999999999999999",
    "X-Plex-Container-Size=1.5",
    "type=0",
    "type=99",
    "sort=",
    "sort=,",
    "sort=title:desc:asc",
    "addedAt>>=",
    "addedAt<<=%ff%fe",
    "updatedAt>=-99999999999y",
    "year=1999,abc",
    "title==%00%01",
    "includeGuids=2",
    "limit=abc",
    "query=%ff",
    "sectionId=-1",
    "accountID=1e9",
    "viewedAt>>=+5mon",
    "metadataItemID=",
    "X-Plex-Token=",
]


async def test_no_server_errors_for_hostile_queries(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    token = sim.world.owner.token
    for path in PMS_PATHS:
        for query in HOSTILE_QUERIES:
            joiner = "&" if "?" in path else "?"
            for accept in ("application/json", "application/xml"):
                response = await http.get(
                    f"{sim.url(0)}{path}{joiner}{query}",
                    headers={"Accept": accept, "X-Plex-Token": token},
                )
                assert response.status_code < 500, (path, query, response.text[:200])


@pytest.mark.parametrize(
    "path",
    [
        "/library/metadata/%ff",
        "/library/metadata/1,,2",
        "/library/sections/%00/all",
        "/library/metadata/" + "9" * 40,
        "/no/such/route",
        "/library/sections/1/all/extra",
    ],
)
async def test_odd_paths_are_client_errors(
    sim: RunningSimulator, http: httpx.AsyncClient, path: str
) -> None:
    response = await http.get(
        f"{sim.url(0)}{path}", headers={**JSON, "X-Plex-Token": sim.world.owner.token}
    )
    assert 400 <= response.status_code < 500


async def test_wrong_method_answers_405_with_allow(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    response = await http.delete(
        f"{sim.url(0)}/library/sections", headers={"X-Plex-Token": sim.world.owner.token}
    )
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


async def test_oversized_control_body_is_refused(control: httpx.AsyncClient) -> None:
    response = await control.post(
        "/faults",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_every_xml_answer_is_well_formed(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    sim.world.add_movie("home", title='Quotes "&" <Angles> \x07 Bell')
    for path in PMS_PATHS:
        response = await http.get(
            f"{sim.url(0)}{path}", headers={"X-Plex-Token": sim.world.owner.token}
        )
        assert response.status_code == 200, path
        root = etree.fromstring(response.content)
        assert root.tag == "MediaContainer"
    found = await http.get(
        f"{sim.url(0)}/hubs/search",
        params={"query": "angles"},
        headers={"X-Plex-Token": sim.world.owner.token},
    )
    video = etree.fromstring(found.content).find("Hub/Video")
    assert video.get("title") == 'Quotes "&" <Angles>  Bell'


async def test_spec_check_rejects_a_wrong_answer(
    sim: RunningSimulator, pms_spec: OpenAPI, community_spec: OpenAPI
) -> None:
    request = httpx.Request("GET", f"{sim.url(0)}/identity")
    wrong = httpx.Response(
        200, json={"MediaContainer": {"size": "one", "claimed": "yes"}}, request=request
    )
    with pytest.raises(SpecMismatch):
        validate(pms_spec, wrong)
    pin_request = httpx.Request("POST", f"{sim.plextv_url}/api/v2/pins")
    wrong_pin = httpx.Response(201, json={"id": "abc", "code": 5}, request=pin_request)
    with pytest.raises(SpecMismatch):
        validate(community_spec, wrong_pin)
