"""``POST /_sim/flows/<name>/exchange`` when Meta's side cannot do its part."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from daemon.flows.keys import generate_private_key, public_pem
from tests.integration.sim.conftest import PID_A1, SimEnv, start_env
from tests.support import free_port


@pytest.fixture
async def sim(nursery: trio.Nursery) -> AsyncIterator[SimEnv]:
    async for e in start_env(nursery):
        yield e


async def test_without_a_business_key_it_says_so(sim: SimEnv) -> None:
    resp = await sim.http.post(f"{sim.base_url}/_sim/flows/x/exchange", json={"action": "ping"})
    assert resp.status_code == 400
    assert "no key registered for" in resp.json()["error"]


async def test_an_unreachable_endpoint_is_502(sim: SimEnv) -> None:
    await sim.client.set_business_public_key(PID_A1, public_pem(generate_private_key()))
    dead = f"http://127.0.0.1:{free_port()}/flows/x"
    resp = await sim.http.post(
        f"{sim.base_url}/_sim/flows/x/exchange",
        json={"action": "ping", "phone_number_id": PID_A1, "endpoint": dead},
    )
    assert resp.status_code == 502
    assert "unreachable" in resp.json()["error"]


async def test_an_endpoint_answering_something_else_is_shown_as_is(sim: SimEnv) -> None:
    await sim.client.set_business_public_key(PID_A1, public_pem(generate_private_key()))
    receiver = sim.sim.dispatcher.url  # the test's webhook receiver answers 200 with no body
    resp = await sim.http.post(
        f"{sim.base_url}/_sim/flows/x/exchange",
        json={"action": "ping", "phone_number_id": PID_A1},
    )
    out = resp.json()
    assert resp.status_code == 200
    assert out["endpoint"] == receiver.replace("/webhook", "/flows/x")
    assert (out["status"], out["response"], out["completion"]) == (200, None, None)


@pytest.mark.parametrize("body", [b"[]", b"nope"])
async def test_the_body_must_be_an_object(sim: SimEnv, body: bytes) -> None:
    resp = await sim.http.post(f"{sim.base_url}/_sim/flows/x/exchange", content=body)
    assert resp.status_code == 400
