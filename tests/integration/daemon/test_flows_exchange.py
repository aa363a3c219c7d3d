"""The Flows data exchange end to end: the simulator plays Meta, the daemon answers.

The simulator seals each user action with the business *public* key (the file the
daemon's sandbox mode made, or the key registered on the number), signs it, POSTs it to
the running daemon's ``/flows/<name>`` over real HTTP and opens the answer; a finished
flow comes back as the user's ``nfm_reply`` webhook, which the daemon publishes as a
``flow.completed`` event.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio

from config import SANDBOX_APP_SECRET
from daemon.bus import BusEvent
from daemon.flows.keys import generate_private_key, public_pem
from daemon.webhook.signature import sign
from tests.integration.daemon.conftest import CHIP, CONTACT, Env

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.config(
        """
[[flows.flow]]
name = "shift_booking"
handler = "shift_booking"
[[flows.flow]]
name = "doctor_onboarding"
handler = "doctor_onboarding"
"""
    ),
]


async def act(env: Env, flow: str, **doc: Any) -> dict[str, Any]:
    """One user action through the simulator's Meta side."""
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            f"http://{env.cfg.sandbox.listen}/_sim/flows/{flow}/exchange", json=doc, timeout=10
        )
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def _flows_url(env: Env, name: str) -> str:
    return env.daemon.webhook_url.removesuffix(env.cfg.webhook.path) + f"/flows/{name}"


async def test_a_ping_is_answered_active(env: Env) -> None:
    out = await act(env, "shift_booking", action="ping")
    assert out["status"] == 200
    assert out["response"] == {"data": {"status": "active"}}
    assert out["endpoint"] == _flows_url(env, "shift_booking")


async def test_a_doctor_books_a_shift_and_the_daemon_publishes_it(env: Env) -> None:
    sub = env.daemon.bus.subscribe()
    token = "ft-booking-1"
    first = await act(env, "shift_booking", action="INIT", flow_token=token)
    assert first["response"]["screen"] == "SHIFTS"
    shift = first["response"]["data"]["shifts"][1]
    shown = await act(
        env,
        "shift_booking",
        action="data_exchange",
        screen="SHIFTS",
        flow_token=token,
        data={"shift_id": shift["id"]},
    )
    assert shown["response"]["screen"] == "CONFIRM"
    assert shown["response"]["data"]["shift_id"] == shift["id"]
    back = await act(env, "shift_booking", action="BACK", screen="CONFIRM", flow_token=token)
    assert back["response"]["screen"] == "SHIFTS"
    done = await act(
        env,
        "shift_booking",
        action="data_exchange",
        screen="CONFIRM",
        flow_token=token,
        data={"shift_id": shift["id"]},
        **{"from": CONTACT, "phone_number_id": CHIP},
    )
    assert done["response"]["screen"] == "SUCCESS"
    params = done["response"]["data"]["extension_message_response"]["params"]
    assert params["shift_id"] == shift["id"]
    assert done["completion"]["wamid"]

    event = await _next(sub.receive, "flow.completed")
    assert event.data["name"] == "shift_booking"
    assert event.data["flow_token"] == token
    assert event.data["from"] == CONTACT
    assert event.data["phone_number_id"] == CHIP
    assert event.data["response"]["booking_id"] == params["booking_id"]
    assert event.data["wamid"] == done["completion"]["wamid"]

    again = await act(env, "shift_booking", action="INIT", flow_token="ft-other")
    assert shift["id"] not in [s["id"] for s in again["response"]["data"]["shifts"]]
    sub.close()


async def _next(receive: trio.MemoryReceiveChannel[BusEvent], kind: str) -> BusEvent:
    with trio.fail_after(10):
        async for event in receive:
            if event.kind == kind:
                return event
    raise AssertionError("bus closed")


async def test_onboarding_shows_what_to_fix_then_completes(env: Env) -> None:
    wrong = await act(
        env,
        "doctor_onboarding",
        action="data_exchange",
        screen="DETAILS",
        flow_token="ft-doc",
        data={"name": "Ana", "crm": "123456/SP", "specialty": "pediatria"},
    )
    assert wrong["response"]["screen"] == "DETAILS"
    assert "sobrenome" in wrong["response"]["data"]["error_message"]
    assert wrong["completion"] is None
    done = await act(
        env,
        "doctor_onboarding",
        action="data_exchange",
        screen="DETAILS",
        flow_token="ft-doc",
        data={"name": "Ana Souza", "crm": "123456/SP", "specialty": "pediatria"},
    )
    assert done["response"]["screen"] == "SUCCESS"
    assert done["completion"]["response"]["crm"] == "123456"


async def test_a_key_meta_has_but_the_daemon_does_not_is_421(env: Env) -> None:
    env.sim.world.numbers[CHIP].public_key = public_pem(generate_private_key())
    out = await act(env, "shift_booking", action="ping", phone_number_id=CHIP)
    assert out["status"] == 421
    env.sim.world.numbers[CHIP].public_key = None
    assert (await act(env, "shift_booking", action="ping"))["status"] == 200


async def test_over_http_a_wrong_signature_is_432_and_garbage_is_400(env: Env) -> None:
    url = _flows_url(env, "shift_booking")
    body = json.dumps({"encrypted_flow_data": "AA==", "encrypted_aes_key": "AA=="}).encode()
    async with httpx.AsyncClient() as http:
        unsigned = await http.post(url, content=body)
        wrong = await http.post(url, content=body, headers={"x-hub-signature-256": "sha256=00"})
        signed = {"x-hub-signature-256": sign(SANDBOX_APP_SECRET.encode(), body)}
        garbage = await http.post(url, content=body, headers=signed)
        unknown = await http.post(_flows_url(env, "nope"), content=body, headers=signed)
        health = await http.get(_flows_url(env, "x").replace("/flows/x", "/healthz"))
    assert (unsigned.status_code, wrong.status_code) == (432, 432)
    assert garbage.status_code == 400
    assert unknown.status_code == 404
    assert health.status_code == 200
