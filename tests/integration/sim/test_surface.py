"""The simulator as any Cloud API client sees it: plain HTTP, Meta's payloads and answers.

No metad code on the client side here: bodies are written the way Meta's documentation
shows them, sent with plain httpx, and answers checked for Meta's shapes. Malformed
requests must get Meta's code 100 answer, never a traceback.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import httpx
import pytest
import trio

from config.secrets import sandbox_token
from daemon.webhook.server import PortInUse
from sim import SimKnobs, build_sim, serve_sim
from tests.integration.sim.conftest import CONTACT, PID_A1, WABA_A, SimEnv, sim_config

TOKEN = sandbox_token(WABA_A)


async def _post(
    env: SimEnv, body: Any, *, version: str = "v23.0", token: str = TOKEN
) -> httpx.Response:
    return await env.http.post(
        f"{env.base_url}/{version}/{PID_A1}/messages",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def _meta_send_answer(doc: dict[str, Any]) -> None:
    assert doc["messaging_product"] == "whatsapp"
    assert doc["contacts"][0]["input"]
    assert doc["contacts"][0]["wa_id"]
    assert doc["messages"][0]["id"].startswith("wamid.")
    assert doc["messages"][0]["message_status"] == "accepted"


@pytest.mark.parametrize(
    "body",
    [
        {"type": "text", "text": {"preview_url": False, "body": "hello"}},
        {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}},
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Confirma?"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Sim"}}]},
            },
        },
        {"type": "image", "image": {"link": "https://cdn.example.com/a.jpg", "caption": "x"}},
        {
            "type": "document",
            "document": {"link": "https://cdn.example.com/a.pdf", "filename": "a.pdf"},
        },
    ],
)
async def test_a_third_party_client_gets_meta_answers(env: SimEnv, body: dict[str, Any]) -> None:
    resp = await _post(
        env,
        {"messaging_product": "whatsapp", "recipient_type": "individual", "to": CONTACT, **body},
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    _meta_send_answer(resp.json())


async def test_access_token_in_the_query_string_and_unversioned_paths(env: SimEnv) -> None:
    resp = await env.http.get(f"{env.base_url}/{PID_A1}", params={"access_token": TOKEN})
    assert resp.status_code == 200
    assert resp.json()["id"] == PID_A1


@pytest.mark.parametrize(
    ("method", "path", "content", "code", "status"),
    [
        ("POST", f"v21.0/{PID_A1}/messages", b"{not json", 100, 400),
        ("POST", f"v21.0/{PID_A1}/messages", b"[1, 2]", 100, 400),
        ("POST", f"v21.0/{PID_A1}/messages", b'{"messaging_product": "whatsapp"}', 100, 400),
        (
            "POST",
            f"v21.0/{PID_A1}/messages",
            b'{"messaging_product":"whatsapp","to":"abc"}',
            100,
            400,
        ),
        ("GET", "v21.0/not-an-id", b"", 100, 400),
        ("GET", "v21.0/123456789/whatever/else/deep", b"", 100, 400),
        ("GET", f"v21.0/{PID_A1}/unknown_edge", b"", 100, 400),
        ("DELETE", f"v21.0/{PID_A1}", b"", 100, 400),
        ("POST", f"v21.0/{WABA_A}/message_templates", b"{broken", 100, 400),
        ("POST", f"v21.0/{WABA_A}/message_templates", b'{"name": "Bad Name"}', 100, 400),
        ("PUT", f"v21.0/{PID_A1}", b"", 100, 400),
        ("GET", "", b"", 100, 400),
    ],
)
async def test_malformed_requests_get_code_100(
    env: SimEnv, method: str, path: str, content: bytes, code: int, status: int
) -> None:
    resp = await env.http.request(
        method,
        f"{env.base_url}/{path}",
        content=content,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code
    assert err["message"]
    assert err["fbtrace_id"]
    assert "Traceback" not in resp.text


async def test_bad_token_beats_everything_else(env: SimEnv) -> None:
    resp = await env.http.post(
        f"{env.base_url}/v21.0/{PID_A1}/messages",
        content=b"garbage",
        headers={"Authorization": "Bearer nope", "Content-Type": "application/json"},
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == 190
    resp = await env.http.get(f"{env.base_url}/v21.0/{PID_A1}")
    assert resp.json()["error"]["code"] == 190


async def test_inspection_api(env: SimEnv) -> None:
    assert (await env.ctl("GET", "health")) == {"ok": True}
    windows = (await env.ctl("GET", f"windows?phone_number_id={PID_A1}"))["data"]
    assert any(w["wa_id"] == CONTACT for w in windows)
    await env.ctl("POST", "clock", {"advance_s": 24 * 3600 + 1})
    windows = (await env.ctl("GET", f"windows?phone_number_id={PID_A1}"))["data"]
    assert not windows
    referral = await env.ctl(
        "POST", "trigger", {"event": "inbound", "kind": "referral", "from": CONTACT}
    )
    assert referral["from"] == CONTACT
    windows = (await env.ctl("GET", f"windows?phone_number_id={PID_A1}"))["data"]
    assert [w["wa_id"] for w in windows] == [CONTACT]
    out = await _post(
        env,
        {"messaging_product": "whatsapp", "to": CONTACT, "type": "text", "text": {"body": "oi"}},
    )
    wamid = out.json()["messages"][0]["id"]
    messages = (await env.ctl("GET", f"messages?to={CONTACT}"))["data"]
    assert messages[-1]["id"] == wamid
    assert messages[-1]["pricing"]["type"] == "free_entry_point"
    state = await env.ctl("GET", "state")
    assert state["seed"] == 7
    assert len(state["numbers"]) == 3
    for bad in (("faults", {"endpoint": "nowhere", "code": 1}), ("knobs", {"no_such_knob": 1})):
        resp = await env.http.post(f"{env.base_url}/_sim/{bad[0]}", json=bad[1])
        assert resp.status_code == 400
        assert "error" in resp.json()
    resp = await env.http.post(f"{env.base_url}/_sim/trigger", json={"event": "meteor"})
    assert resp.status_code == 400
    assert (await env.http.get(f"{env.base_url}/_sim/nothing")).status_code == 404


async def test_same_seed_same_run(nursery: trio.Nursery) -> None:
    async def run_once(seed: int) -> tuple[list[str], list[str]]:
        sim = build_sim(sim_config(), webhook_url=None, seed=seed, knobs=SimKnobs.quiet())
        base = await nursery.start(partial(serve_sim, sim_config(), listen="127.0.0.1:0", sim=sim))
        async with httpx.AsyncClient() as http:
            ids = []
            for i in range(3):
                resp = await http.post(
                    f"{base}/v21.0/{PID_A1}/messages",
                    json={
                        "messaging_product": "whatsapp",
                        "to": CONTACT,
                        "type": "text",
                        "text": {"body": str(i)},
                    },
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                ids.append(resp.json()["messages"][0]["id"])
        return list(sim.world.contacts)[:20], ids

    (contacts_a, ids_a), (contacts_b, ids_b) = await run_once(11), await run_once(11)
    assert contacts_a == contacts_b  # the same seed makes the same world …
    assert len(ids_a) == len(ids_b) == 3
    assert not set(ids_a) & set(ids_b)  # … but wamids never repeat, as at Meta
    assert (await run_once(11))[0] != (await run_once(12))[0]


async def test_hypercorn_front_end_serves_the_same_api(nursery: trio.Nursery) -> None:
    sim = build_sim(sim_config(), webhook_url=None, knobs=SimKnobs.quiet())
    base = await nursery.start(
        partial(serve_sim, sim_config(), listen="127.0.0.1:0", sim=sim, server="hypercorn")
    )
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            f"{base}/v21.0/{PID_A1}/messages",
            json={
                "messaging_product": "whatsapp",
                "to": CONTACT,
                "type": "text",
                "text": {"body": "oi"},
            },
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        _meta_send_answer(resp.json())
        resp = await http.get(
            f"{base}/v21.0/{PID_A1}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert resp.json()["id"] == PID_A1


@pytest.mark.parametrize("server", ["lean", "hypercorn"])
async def test_an_address_it_cannot_listen_on_is_one_line_naming_it(
    server: Any, nursery: trio.Nursery
) -> None:
    """The daemon serves the simulator on ``sandbox.listen``: its failure must say which
    address and why, not ``[Errno 99]`` (the CLI prints a PortInUse as one line)."""
    busy = await nursery.start(partial(serve_sim, sim_config(), listen="127.0.0.1:0"))
    taken = busy.removeprefix("http://")
    for listen, reason in [
        (taken, "address already in use"),
        ("10.255.255.1:8089", "cannot assign requested address (not an address of this host)"),
        ("nosuchhost.invalid:8089", "cannot resolve the host ("),
        ("127.0.0.1:99999", "port must be 0 to 65535"),
    ]:
        expected = re.escape(f"cannot listen on {listen} for the sandbox simulator: {reason}")
        with pytest.RaisesGroup(
            pytest.RaisesExc(PortInUse, match=f"^{expected}"), flatten_subgroups=True
        ):
            await nursery.start(partial(serve_sim, sim_config(), listen=listen, server=server))
