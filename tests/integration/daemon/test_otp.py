"""OTP and shift confirmation end to end: control socket → chip → simulator → webhook."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import trio

from daemon.bus import BusEvent
from daemon.control.client import ControlError, connect
from tests.integration.daemon.conftest import CHIP, CONTACT, Env, wait_until
from tests.integration.daemon.otp_calls import OtpCalls, approved_shift_template
from tests.support import metad_command

WABA = "100000000000001"
SPELLED = "+55 (11) 98765-4321"  # the same contact as CONTACT, written by a person


def _socket(env: Env) -> Path:
    return Path(env.daemon.control_socket)


def _sent_code(env: Env, wamid: str) -> str:
    """The code as the contact received it (metad never tells it to anyone)."""
    template = env.sim.world.messages[wamid].payload["template"]
    body = next(c for c in template["components"] if c["type"] == "body")
    button = next(c for c in template["components"] if c["type"] == "button")
    code = str(body["parameters"][0]["text"])
    assert button["parameters"][0]["text"] == code
    return code


async def test_a_code_is_sent_with_the_auth_template_and_verifies_once(env: Env) -> None:
    async with connect(_socket(env)) as client:
        sent = await client.call("otp.send", {"chip": CHIP, "to": CONTACT, "purpose": "login"})
        assert sent["result"] == "sent"
        assert "code" not in sent
        code = _sent_code(env, sent["wamid"])
        assert len(code) == 6
        assert code.isdigit()
        message = env.sim.world.messages[sent["wamid"]]
        assert message.payload["template"]["name"] == "codigo_verificacao"
        stored = await env.daemon.store.fetchrow(
            "SELECT code_hash, contact FROM otp_codes WHERE purpose = 'login'"
        )
        assert stored is not None
        assert code.encode() not in bytes(stored["code_hash"])
        wrong = "000000" if code != "000000" else "111111"
        miss = await client.call("otp.verify", {"to": CONTACT, "purpose": "login", "code": wrong})
        assert miss == {"valid": False, "reason": "wrong", "attempts_left": 4}
        hit = await client.call("otp.verify", {"to": SPELLED, "purpose": "login", "code": code})
        assert hit["valid"] is True
        again = await client.call("otp.verify", {"to": CONTACT, "purpose": "login", "code": code})
        assert again["reason"] == "used"


@pytest.mark.config("[otp]\nmax_attempts = 2\nmax_sends_per_hour = 2\nlockout_s = 600")
async def test_attempts_and_sends_are_limited_per_contact_and_purpose(env: Env) -> None:
    async with connect(_socket(env)) as client:
        send = OtpCalls(client).send

        shift = await send("shift:V1002")
        assert shift["result"] == "sent"
        await wait_until(lambda: shift["wamid"] in env.sim.world.messages)
        login = await send("login")
        assert login["result"] == "sent"
        for left in (1, 0):
            miss = await client.call(
                "otp.verify", {"to": SPELLED, "purpose": "login", "code": "not-it"}
            )
            assert (miss["reason"], miss["attempts_left"]) == ("wrong", left)
        right = _sent_code(env, login["wamid"])
        locked = await client.call("otp.verify", {"to": CONTACT, "purpose": "login", "code": right})
        assert (locked["valid"], locked["reason"]) == (False, "locked")
        assert 590 <= locked["retry_after_s"] <= 600
        assert locked["locked_until"].endswith("-03:00")  # America/Sao_Paulo, not epoch
        refused = await send("login")
        assert refused["result"] == "refused"
        until = re.escape(locked["locked_until"])
        told = rf"locked after 2 wrong codes until {until} \(\d+ s left\)"
        assert re.fullmatch(told, refused["reason"])
        # The other purpose of the same contact is untouched by the lockout…
        other = await client.call(
            "otp.verify",
            {"to": CONTACT, "purpose": "shift:V1002", "code": _sent_code(env, shift["wamid"])},
        )
        assert other["valid"] is True
        # …but has its own hourly send budget.
        assert (await send("shift:V1002"))["result"] == "sent"
        capped = await send("shift:V1002")
        assert (capped["result"], capped["reason"]) == ("refused", "2 codes already sent this hour")


@pytest.mark.config("[otp]\nmax_sends_per_hour = 2")
async def test_a_refused_send_keeps_the_held_code_and_is_not_counted(env: Env) -> None:
    """The chip refuses (paused): the contact's code still works, the hour's budget is
    untouched, and a contact who never got a code has none (not a "used" one)."""
    async with connect(_socket(env)) as client:
        calls = OtpCalls(client)
        send, verify = calls.send, calls.verify

        pause = {"phone_number_id": CHIP, "reason": "night"}
        await client.call("chip.pause", pause)
        refused = await send()
        assert (refused["result"], refused["reason"]) == ("refused", "chip paused: night")
        assert await verify("123456") == {
            "valid": False,
            "reason": "no_code",
            "attempts_left": None,
        }
        await client.call("chip.resume", {"phone_number_id": CHIP})
        held = await send()
        assert held["result"] == "sent"
        await client.call("chip.pause", pause)
        for _ in range(5):
            assert (await send())["result"] == "refused"
        await client.call("chip.resume", {"phone_number_id": CHIP})
        assert (await verify(_sent_code(env, held["wamid"])))["valid"] is True
        assert (await send())["result"] == "sent"  # the second of two this hour
        capped = await send()
        assert (capped["result"], capped["reason"]) == ("refused", "2 codes already sent this hour")


async def test_a_purpose_is_limited_like_a_shift_id(env: Env) -> None:
    async with connect(_socket(env)) as client:
        for method, params in (
            ("otp.send", {"chip": CHIP, "to": CONTACT}),
            ("otp.verify", {"to": CONTACT, "code": "123456"}),
        ):
            with pytest.raises(ControlError, match="purpose: 1 to 128 characters"):
                await client.call(method, {**params, "purpose": "x" * 5000})
        assert await env.daemon.store.fetchval("SELECT count(*) FROM otp_codes") == 0


async def test_auth_templates_are_created_with_the_right_buttons(env: Env) -> None:
    async with connect(_socket(env)) as client:
        with pytest.raises(ControlError, match="zero_tap_terms_accepted"):
            await client.call(
                "otp.template.create",
                {
                    "name": "otp_zero",
                    "otp_type": "ZERO_TAP",
                    "package_name": "com.revoluna.app",
                    "signature_hash": "K8a/AINcGX7",
                },
            )
        created = await client.call(
            "otp.template.create",
            {
                "waba": WABA,
                "name": "otp_zero",
                "otp_type": "ZERO_TAP",
                "package_name": "com.revoluna.app",
                "signature_hash": "K8a/AINcGX7",
                "zero_tap_terms_accepted": True,
                "code_expiration_minutes": 5,
            },
        )
    record = env.sim.world.templates[created["id"]]
    assert record.category == "AUTHENTICATION"
    body, footer, buttons = record.components
    assert body["add_security_recommendation"] is True
    assert "{{1}}" in body["text"]  # Meta's preset, filled in by Meta
    assert footer == {"type": "FOOTER", "code_expiration_minutes": 5}
    (button,) = buttons["buttons"]
    assert button["otp_type"] == "ZERO_TAP"
    assert button["zero_tap_terms_accepted"] is True
    assert button["supported_apps"] == [
        {"package_name": "com.revoluna.app", "signature_hash": "K8a/AINcGX7"}
    ]
    await wait_until(lambda: record.status == "APPROVED")


async def test_a_tap_on_the_offer_confirms_that_shift_for_that_contact(env: Env) -> None:
    env.sim.world.contacts[CONTACT].replies = False  # the test taps, not the simulator
    events = env.daemon.bus.subscribe()
    async with connect(_socket(env)) as client:
        record = await approved_shift_template(env, client)
        assert record.category == "UTILITY"
        params = ["Carla", "01/12 às 19h", "Hospital Santa Clara"]
        sent = await client.call(
            "shift.confirm.send",
            {"chip": CHIP, "to": CONTACT, "shift_id": "V1002", "params": params},
        )
        assert sent["result"] == "sent"
        other = await client.call(
            "shift.confirm.send",
            {"chip": CHIP, "to": CONTACT, "shift_id": "V1003", "params": params},
        )
        assert other["result"] == "sent"
        payload = env.sim.world.messages[sent["wamid"]].payload["template"]["components"]
        confirm = payload[1]["parameters"][0]["payload"]
        assert confirm.startswith("shift:confirm:")
        assert confirm.endswith(":V1002")

        # Someone else tapping a copy of the button confirms nothing.
        stranger = next(w for w in env.sim.world.contacts if w != CONTACT)
        tap = {"type": "button", "button": {"payload": confirm, "text": "Confirmo"}}
        env.sim.inbound(CHIP, stranger, tap)
        env.sim.inbound(CHIP, CONTACT, tap, context=sent["wamid"])

        async def confirmed() -> bool:
            status = await client.call("shift.status", {"shift_id": "V1002", "to": CONTACT})
            return bool(status["state"] == "confirmed")

        await wait_until(confirmed)
        untouched = await client.call("shift.status", {"shift_id": "V1003", "to": SPELLED})
        assert untouched["state"] == "pending"
    event: BusEvent = events.receive.receive_nowait()
    while event.kind != "shift":
        event = events.receive.receive_nowait()
    assert event.data["shift_id"] == "V1002"
    assert event.data["state"] == "confirmed"
    rows = await env.daemon.store.fetch("SELECT shift_id, state FROM shift_confirmations")
    assert {(r["shift_id"], r["state"]) for r in rows} == {
        ("V1002", "confirmed"),
        ("V1003", "pending"),
    }


PARAMS = ["Carla", "01/12 às 19h", "Hospital Santa Clara"]


async def _shift_template(env: Env, client: Any) -> None:
    await approved_shift_template(env, client)


def _tap(env: Env, wamid: str, answer: str) -> str:
    """The contact taps ``answer`` on the message ``wamid``; returns the tap's wamid."""
    components = env.sim.world.messages[wamid].payload["template"]["components"]
    buttons = [c for c in components if c["type"] == "button"]
    payload = buttons[0 if answer == "confirm" else 1]["parameters"][0]["payload"]
    tap = {"type": "button", "button": {"payload": payload, "text": answer}}
    return env.sim.inbound(CHIP, CONTACT, tap, context=wamid)


async def _handled(env: Env, wamid: str) -> None:
    """Wait until the daemon applied the inbound message ``wamid``."""

    async def seen() -> bool:
        key = f"m:{wamid}"
        found = await env.daemon.store.fetchval("SELECT 1 FROM webhook_seen WHERE key = $1", key)
        return found is not None

    await wait_until(seen)


async def test_a_re_offer_keeps_the_answer_unless_forced_and_sent(env: Env) -> None:
    """A resend the chip refuses changes nothing; an answered offer is offered again
    only when forced, and only a forced one that left asks anew."""
    env.sim.world.contacts[CONTACT].replies = False
    pause = {"phone_number_id": CHIP, "reason": "night"}
    async with connect(_socket(env)) as client:
        await _shift_template(env, client)
        offer = {"chip": CHIP, "to": CONTACT, "shift_id": "V1002", "params": PARAMS}

        async def send(**extra: Any) -> dict[str, Any]:
            result: dict[str, Any] = await client.call("shift.confirm.send", {**offer, **extra})
            return result

        async def status() -> dict[str, Any]:
            result: dict[str, Any] = await client.call(
                "shift.status", {"shift_id": "V1002", "to": CONTACT}
            )
            return result

        async def state_is(state: str) -> bool:
            return bool((await status())["state"] == state)

        await client.call("chip.pause", pause)
        assert (await send())["result"] == "refused"
        assert (await status())["state"] is None  # no offer left: none was ever made
        await client.call("chip.resume", {"phone_number_id": CHIP})
        first = await send()
        assert first["result"] == "sent"
        offered = await status()
        await client.call("chip.pause", pause)
        assert (await send())["reason"] == "chip paused: night"
        assert await status() == offered  # the refused resend changed nothing…
        await client.call("chip.resume", {"phone_number_id": CHIP})
        _tap(env, first["wamid"], "confirm")  # …so the first message still answers
        await wait_until(lambda: state_is("confirmed"))
        answered = await status()
        assert answered["answered_at"] is not None

        again = await send()
        assert again["result"] == "refused"
        assert again["reason"].startswith("already confirmed at ")
        assert "--again" in again["reason"]
        assert await status() == answered
        await client.call("chip.pause", pause)
        forced = await send(force=True)
        assert (forced["result"], forced["reason"]) == ("refused", "chip paused: night")
        assert await status() == answered
        await client.call("chip.resume", {"phone_number_id": CHIP})

        anew = await send(force=True)
        assert anew["result"] == "sent"
        asked = await status()
        assert (asked["state"], asked["answered_at"]) == ("pending", None)
        assert asked["outbox_id"] == anew["outbox_id"]
        await _handled(env, _tap(env, first["wamid"], "decline"))  # the old message: stale
        assert await status() == asked
        _tap(env, anew["wamid"], "decline")
        await wait_until(lambda: state_is("declined"))


async def test_a_message_that_fails_after_meta_took_it_is_told(env: Env) -> None:
    """131026 (not on WhatsApp) comes on a status webhook after the send was accepted:
    the shift offer becomes failed with the code, and a guess at the OTP says why."""
    env.sim.world.contacts[CONTACT].reachable = False
    events = env.daemon.bus.subscribe()
    async with connect(_socket(env)) as client:
        await _shift_template(env, client)
        sent = await client.call(
            "shift.confirm.send",
            {"chip": CHIP, "to": CONTACT, "shift_id": "V1002", "params": PARAMS},
        )
        assert sent["result"] == "sent"
        code = await client.call("otp.send", {"chip": CHIP, "to": CONTACT, "purpose": "login"})
        assert code["result"] == "sent"

        async def failed(outbox_id: int) -> bool:
            state = await env.daemon.store.fetchval(
                "SELECT state FROM outbox WHERE id = $1", outbox_id
            )
            return bool(state == "failed")

        await wait_until(lambda: failed(sent["outbox_id"]))
        await wait_until(lambda: failed(code["outbox_id"]))
        status = await client.call("shift.status", {"shift_id": "V1002", "to": CONTACT})
        assert (status["state"], status["error_code"]) == ("failed", 131026)

        async def stored_failed() -> bool:
            row = await env.daemon.store.fetchrow(
                "SELECT state, error_code FROM shift_confirmations WHERE shift_id = 'V1002'"
            )
            return row is not None and (row["state"], row["error_code"]) == ("failed", 131026)

        # The status read above sees the outbox row at once; the offer's own row follows
        # when the webhook's event reaches the shift service (or the send's answer is
        # recorded, when the webhook came first).
        await wait_until(stored_failed)
        wrong = "000000" if _sent_code(env, code["wamid"]) != "000000" else "111111"
        guess = await client.call("otp.verify", {"to": CONTACT, "purpose": "login", "code": wrong})
        # Nobody holds the code (no earlier one to fall back on): no code, and why.
        assert (guess["reason"], guess["detail"]) == (
            "no_code",
            "the code was not delivered: 131026",
        )
    event: BusEvent = events.receive.receive_nowait()
    while event.kind != "shift":
        event = events.receive.receive_nowait()
    assert (event.data["state"], event.data["error_code"]) == ("failed", 131026)


async def test_metad_ctl_sends_and_verifies(env: Env) -> None:
    socket = ["ctl", "--socket", env.daemon.control_socket]

    async def ctl(*args: str) -> tuple[int, Any]:
        out = await trio.run_process(
            metad_command(*socket, *args, "--json"), capture_stdout=True, check=False
        )
        return out.returncode, json.loads(out.stdout)

    code, sent = await ctl("otp", "send", "--chip", CHIP, "--to", CONTACT, "--purpose", "x")
    assert (code, sent["result"]) == (0, "sent")
    code, miss = await ctl("otp", "verify", "--to", CONTACT, "--purpose", "x", "--code", "1")
    assert (code, miss["reason"]) == (1, "wrong")
    right = _sent_code(env, sent["wamid"])
    code, hit = await ctl("otp", "verify", "--to", SPELLED, "--purpose", "x", "--code", right)
    assert (code, hit["valid"]) == (0, True)
    code, mark = await ctl("keep", "--chip", CHIP, "--contact", SPELLED)
    assert (code, mark["contact"]) == (0, CONTACT)
    code, kept = await ctl("kept")
    assert [k["contact"] for k in kept] == [CONTACT]
