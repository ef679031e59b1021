"""plex.tv behaviour: PINs, the signed-in user and the resources list, checked against the spec."""

from __future__ import annotations

import httpx
from lxml import etree
from openapi_core import OpenAPI
from plex_sim_specs import validate
from plex_sim_support import CLIENT_ID, JSON

from medianest_plex.simulator import RunningSimulator


async def test_pin_creation_answers_201_with_null_token(
    plextv: httpx.AsyncClient, community_spec: OpenAPI
) -> None:
    response = await plextv.post("/pins", params={"strong": "true"})
    assert response.status_code == 201
    validate(community_spec, response)
    pin = response.json()
    assert pin["authToken"] is None
    assert len(pin["code"]) == 25
    assert pin["clientIdentifier"] == CLIENT_ID
    assert pin["product"] == "MediaNest"
    assert pin["expiresIn"] > 0


async def test_default_pin_has_a_short_code_and_shorter_life(plextv: httpx.AsyncClient) -> None:
    short = (await plextv.post("/pins")).json()
    strong = (await plextv.post("/pins", params={"strong": "true"})).json()
    assert len(short["code"]) == 4 and short["code"].isalnum()
    assert short["expiresIn"] < strong["expiresIn"]
    assert short["id"] != strong["id"]


async def test_pin_needs_a_client_identifier(
    sim: RunningSimulator, http: httpx.AsyncClient, community_spec: OpenAPI
) -> None:
    response = await http.post(f"{sim.plextv_url}/api/v2/pins", headers=JSON)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"code": 1000, "status": 400, "message": "X-Plex-Client-Identifier is missing"}]
    }
    validate(community_spec, response)


async def test_client_identifier_may_come_as_query_parameter(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        f"{sim.plextv_url}/api/v2/pins",
        params={"X-Plex-Client-Identifier": "q-client"},
        headers=JSON,
    )
    assert response.status_code == 201
    assert response.json()["clientIdentifier"] == "q-client"


async def test_polling_shows_token_only_after_approval(
    sim: RunningSimulator, plextv: httpx.AsyncClient, community_spec: OpenAPI
) -> None:
    pin = (await plextv.post("/pins", params={"strong": "true"})).json()
    before = await plextv.get(f"/pins/{pin['id']}")
    assert before.status_code == 200
    validate(community_spec, before)
    assert before.json()["authToken"] is None
    sim.world.approve_pin("friend1", pin_id=pin["id"])
    after = await plextv.get(f"/pins/{pin['id']}")
    validate(community_spec, after)
    assert after.json()["authToken"] == sim.world.accounts["friend1"].token


async def test_expired_pin_is_not_found(
    sim: RunningSimulator, plextv: httpx.AsyncClient, community_spec: OpenAPI
) -> None:
    pin = (await plextv.post("/pins")).json()
    sim.world.advance_clock(pin["expiresIn"] + 1)
    response = await plextv.get(f"/pins/{pin['id']}")
    assert response.status_code == 404
    validate(community_spec, response)
    assert response.json()["errors"][0] == {
        "code": 1020,
        "message": "Code not found or expired",
        "status": 404,
    }


async def test_pin_of_another_client_is_not_found(plextv: httpx.AsyncClient) -> None:
    pin = (await plextv.post("/pins")).json()
    response = await plextv.get(
        f"/pins/{pin['id']}", headers={"X-Plex-Client-Identifier": "someone-else"}
    )
    assert response.status_code == 404


async def test_pin_id_must_be_numeric(plextv: httpx.AsyncClient) -> None:
    response = await plextv.get("/pins/abc")
    assert response.status_code == 400
    assert "integer" in response.json()["errors"][0]["message"]


async def test_bad_strong_flag_is_rejected(plextv: httpx.AsyncClient) -> None:
    response = await plextv.post("/pins", params={"strong": "maybe"})
    assert response.status_code == 400


async def test_user_needs_a_valid_token(plextv: httpx.AsyncClient, community_spec: OpenAPI) -> None:
    missing = await plextv.get("/user")
    wrong = await plextv.get("/user", headers={"X-Plex-Token": "not-a-token"})
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == 1001
        validate(community_spec, response)


async def test_user_describes_each_account(
    sim: RunningSimulator, plextv: httpx.AsyncClient, community_spec: OpenAPI
) -> None:
    for key, account in sim.world.accounts.items():
        response = await plextv.get("/user", params={"X-Plex-Token": account.token})
        assert response.status_code == 200, key
        body = response.json()
        assert (body["id"], body["uuid"], body["username"], body["authToken"]) == (
            account.id,
            account.uuid,
            account.username,
            account.token,
        )
        # plex.tv gives managed users no e-mail address; the community schema's
        # ``format: email`` does not allow for that, so that one error is tolerated.
        validate(community_spec, response, allowed_errors=("is not a 'email'",))
        assert body["restricted"] is (key == "managed")
        assert body["home"] is (key in ("owner", "managed"))
        assert body["homeAdmin"] is (key == "owner")


async def test_managed_user_has_no_email(sim: RunningSimulator, plextv: httpx.AsyncClient) -> None:
    body = (
        await plextv.get("/user", headers={"X-Plex-Token": sim.world.accounts["managed"].token})
    ).json()
    assert body["email"] == "" and body["hasPassword"] is False


async def test_user_needs_a_client_identifier_too(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    response = await http.get(
        f"{sim.plextv_url}/api/v2/user", headers={**JSON, "X-Plex-Token": sim.world.owner.token}
    )
    assert response.status_code == 400


async def _resources(plextv: httpx.AsyncClient, token: str) -> httpx.Response:
    return await plextv.get(
        "/resources",
        params={"includeHttps": 1, "includeRelay": 1, "includeIPv6": 1},
        headers={"X-Plex-Token": token},
    )


async def test_owner_sees_both_owned_servers_with_real_urls(
    sim: RunningSimulator,
    plextv: httpx.AsyncClient,
    http: httpx.AsyncClient,
    community_spec: OpenAPI,
) -> None:
    response = await _resources(plextv, sim.world.owner.token)
    assert response.status_code == 200
    validate(community_spec, response)
    servers = [r for r in response.json() if r["provides"] == "server"]
    assert [s["clientIdentifier"] for s in servers] == [
        s.machine_identifier for s in sim.world.servers
    ]
    assert all(s["owned"] and s["sourceTitle"] is None and s["ownerId"] is None for s in servers)
    for server in servers:
        uri = server["connections"][0]["uri"]
        identity = await http.get(f"{uri}/identity", headers=JSON)
        assert identity.json()["MediaContainer"]["machineIdentifier"] == server["clientIdentifier"]
        root = await http.get(uri, headers={**JSON, "X-Plex-Token": server["accessToken"]})
        assert root.status_code == 200


async def test_owner_resources_also_list_a_player(
    sim: RunningSimulator, plextv: httpx.AsyncClient
) -> None:
    body = (await _resources(plextv, sim.world.owner.token)).json()
    assert any("player" in r["provides"] for r in body)


async def test_friend_sees_shared_servers_with_access_tokens(
    sim: RunningSimulator,
    plextv: httpx.AsyncClient,
    http: httpx.AsyncClient,
    community_spec: OpenAPI,
) -> None:
    owner = sim.world.owner
    one = await _resources(plextv, sim.world.accounts["friend1"].token)
    validate(community_spec, one)
    assert len(one.json()) == 2
    two = (await _resources(plextv, sim.world.accounts["friend2"].token)).json()
    assert len(two) == 1
    shared = two[0]
    assert shared["owned"] is False
    assert shared["sourceTitle"] == owner.title and shared["ownerId"] == owner.id
    assert shared["accessToken"] not in (owner.token, sim.world.accounts["friend2"].token)
    uri = shared["connections"][0]["uri"]
    ok = await http.get(
        f"{uri}/library/sections", headers={**JSON, "X-Plex-Token": shared["accessToken"]}
    )
    assert ok.status_code == 200
    plain = await http.get(
        f"{uri}/library/sections",
        headers={**JSON, "X-Plex-Token": sim.world.accounts["friend2"].token},
    )
    assert plain.status_code == 401


async def test_managed_user_reaches_the_home_server(
    sim: RunningSimulator, plextv: httpx.AsyncClient
) -> None:
    body = (await _resources(plextv, sim.world.accounts["managed"].token)).json()
    assert [r["clientIdentifier"] for r in body] == [sim.world.servers[0].machine_identifier]
    assert body[0]["home"] is True and body[0]["owned"] is False


async def test_stranger_sees_nothing(
    sim: RunningSimulator, plextv: httpx.AsyncClient, community_spec: OpenAPI
) -> None:
    response = await _resources(plextv, sim.world.accounts["stranger"].token)
    assert response.status_code == 200
    validate(community_spec, response)
    assert response.json() == []


async def test_resources_flags_must_be_boolean(
    sim: RunningSimulator, plextv: httpx.AsyncClient
) -> None:
    response = await plextv.get(
        "/resources",
        params={"includeHttps": "often"},
        headers={"X-Plex-Token": sim.world.owner.token},
    )
    assert response.status_code == 400


async def test_v2_answers_xml_when_asked(sim: RunningSimulator, plextv: httpx.AsyncClient) -> None:
    xml = {"Accept": "application/xml"}
    pin = etree.fromstring((await plextv.post("/pins", headers=xml)).content)
    assert pin.tag == "pin" and len(pin.get("code")) == 4
    resources = etree.fromstring(
        (
            await plextv.get("/resources", headers={**xml, "X-Plex-Token": sim.world.owner.token})
        ).content
    )
    assert resources.tag == "resources"
    connections = resources.findall("resource/connections/connection")
    assert len(connections) == 2
    error = etree.fromstring((await plextv.get("/user", headers=xml)).content)
    assert error.find("error").get("code") == "1001"
