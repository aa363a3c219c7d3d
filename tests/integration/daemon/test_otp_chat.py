"""A code typed back in the WhatsApp chat verifies like ``otp verify``: counted when a
single purpose awaits one, taken only on an exact match when several do, and ordinary
chat is left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from daemon.bus import BusEvent, Subscription
from daemon.control.client import connect
from tests.integration.daemon.conftest import CHIP, CONTACT, Env, wait_until
from tests.integration.daemon.otp_calls import approved_shift_template

WABA = "100000000000001"
PARAMS = ["Carla", "01/12 às 19h", "Hospital Santa Clara"]


def _sent_code(env: Env, wamid: str) -> str:
    template = env.sim.world.messages[wamid].payload["template"]
    body = next(c for c in template["components"] if c["type"] == "body")
    return str(body["parameters"][0]["text"])


def _other(code: str) -> str:
    """A six-digit number that is not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def _typed(env: Env, text: str) -> None:
    """The contact writes ``text`` in the chat; returns once the daemon applied it."""
    wamid = env.sim.inbound(CHIP, CONTACT, {"type": "text", "text": {"body": text}})

    async def seen() -> bool:
        key = f"m:{wamid}"
        found = await env.daemon.store.fetchval("SELECT 1 FROM webhook_seen WHERE key = $1", key)
        return found is not None

    await wait_until(seen)


async def _row(env: Env, purpose: str) -> Any:
    return await env.daemon.store.fetchrow(
        "SELECT attempts, consumed_at FROM otp_codes WHERE purpose = $1", purpose
    )


def _events(events: Subscription, kind: str) -> list[BusEvent]:
    found: list[BusEvent] = []
    while True:
        try:
            event = events.receive.receive_nowait()
        except Exception:
            return found
        if event.kind == kind:
            found.append(event)


@pytest.mark.config("[otp]\nmax_attempts = 2")
async def test_one_awaiting_purpose_takes_the_typed_code_and_counts_misses(env: Env) -> None:
    env.sim.world.contacts[CONTACT].replies = False
    events = env.daemon.bus.subscribe()
    async with connect(Path(env.daemon.control_socket)) as client:
        sent = await client.call("otp.send", {"chip": CHIP, "to": CONTACT, "purpose": "login"})
        assert sent["result"] == "sent"
        code = _sent_code(env, sent["wamid"])
        await _typed(env, "oi, tudo bem?")  # ordinary chat
        await _typed(env, f"my code is {code}")  # not the whole message: chat too
        assert (await _row(env, "login"))["attempts"] == 0
        wrong = _other(code)
        await _typed(env, f"{wrong[:3]} {wrong[3:]}")
        assert (await _row(env, "login"))["attempts"] == 1  # a miss, as otp verify counts
        await _typed(env, f" {code[:3]}-{code[3:]} ")
        row = await _row(env, "login")
        assert row["consumed_at"] is not None
        again = await client.call("otp.verify", {"to": CONTACT, "purpose": "login", "code": code})
        assert again["reason"] == "used"
    (verified,) = _events(events, "otp")
    assert verified.data["purpose"] == "login"
    assert (verified.data["via"], verified.data["chip"]) == ("chat", CHIP)


async def test_with_several_purposes_a_miss_counts_nowhere_and_a_match_confirms(
    env: Env,
) -> None:
    env.sim.world.contacts[CONTACT].replies = False
    events = env.daemon.bus.subscribe()
    async with connect(Path(env.daemon.control_socket)) as client:
        await approved_shift_template(env, client)
        offer = await client.call(
            "shift.confirm.send",
            {"chip": CHIP, "to": CONTACT, "shift_id": "V1002", "params": PARAMS},
        )
        assert offer["result"] == "sent"
        login = await client.call("otp.send", {"chip": CHIP, "to": CONTACT, "purpose": "login"})
        shift = await client.call(
            "otp.send", {"chip": CHIP, "to": CONTACT, "purpose": "shift:V1002"}
        )
        codes = {_sent_code(env, login["wamid"]), _sent_code(env, shift["wamid"])}
        wrong = next(c for c in (f"{n:06d}" for n in range(10)) if c not in codes)
        await _typed(env, wrong)
        for purpose in ("login", "shift:V1002"):
            assert (await _row(env, purpose))["attempts"] == 0  # nobody locked out
        await _typed(env, _sent_code(env, shift["wamid"]))
        assert (await _row(env, "shift:V1002"))["consumed_at"] is not None
        login_row = await _row(env, "login")
        assert (login_row["attempts"], login_row["consumed_at"]) == (0, None)
        status = await client.call("shift.status", {"shift_id": "V1002", "to": CONTACT})
        assert status["state"] == "confirmed"
    (confirmed,) = _events(events, "shift")
    assert (confirmed.data["shift_id"], confirmed.data["state"]) == ("V1002", "confirmed")
    assert confirmed.data["via"] == "code"


@pytest.mark.config("[otp]\naccept_codes_in_chat = false")
async def test_reading_codes_in_the_chat_can_be_turned_off(env: Env) -> None:
    env.sim.world.contacts[CONTACT].replies = False
    async with connect(Path(env.daemon.control_socket)) as client:
        sent = await client.call("otp.send", {"chip": CHIP, "to": CONTACT, "purpose": "login"})
        code = _sent_code(env, sent["wamid"])
        await _typed(env, _other(code))
        await _typed(env, code)
        row = await _row(env, "login")
        assert (row["attempts"], row["consumed_at"]) == (0, None)
        hit = await client.call("otp.verify", {"to": CONTACT, "purpose": "login", "code": code})
        assert hit["valid"] is True


async def test_otp_verify_of_a_shift_code_confirms_its_offer_as_the_chat_does(env: Env) -> None:
    """The control path and the chat share one verify: a valid ``shift:<id>`` code
    confirms the pending offer; a code for another purpose confirms nothing."""
    env.sim.world.contacts[CONTACT].replies = False
    async with connect(Path(env.daemon.control_socket)) as client:
        await approved_shift_template(env, client)
        for shift_id in ("V1002", "V1003"):
            offer = await client.call(
                "shift.confirm.send",
                {"chip": CHIP, "to": CONTACT, "shift_id": shift_id, "params": PARAMS},
            )
            assert offer["result"] == "sent"
        sent = await client.call(
            "otp.send", {"chip": CHIP, "to": CONTACT, "purpose": "shift:V1002"}
        )
        code = _sent_code(env, sent["wamid"])
        hit = await client.call(
            "otp.verify", {"to": CONTACT, "purpose": "shift:V1002", "code": code}
        )
        assert hit["valid"] is True

        async def state(shift_id: str) -> str:
            status = await client.call("shift.status", {"shift_id": shift_id, "to": CONTACT})
            return str(status["state"])

        assert await state("V1002") == "confirmed"
        assert await state("V1003") == "pending"
