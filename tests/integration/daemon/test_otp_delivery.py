"""A code Meta took and then failed to deliver (a ``failed`` status webhook, 131026):
it does not count toward the hourly limit, and the code it replaced verifies again."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.control.client import connect
from tests.integration.daemon.conftest import CHIP, CONTACT, Env, wait_until
from tests.integration.daemon.otp_calls import OtpCalls


def _sent_code(env: Env, wamid: str) -> str:
    template = env.sim.world.messages[wamid].payload["template"]
    body = next(c for c in template["components"] if c["type"] == "body")
    return str(body["parameters"][0]["text"])


async def _failed(env: Env, outbox_id: int) -> bool:
    state = await env.daemon.store.fetchval("SELECT state FROM outbox WHERE id = $1", outbox_id)
    return bool(state == "failed")


@pytest.mark.config("[otp]\nmax_sends_per_hour = 2")
async def test_an_undelivered_code_is_uncounted_and_gives_back_the_held_one(env: Env) -> None:
    contact = env.sim.world.contacts[CONTACT]
    contact.replies = False
    async with connect(Path(env.daemon.control_socket)) as client:
        calls = OtpCalls(client)
        send, verify = calls.send, calls.verify

        held = await send()
        assert held["result"] == "sent"
        await wait_until(lambda: held["wamid"] in env.sim.world.messages)
        contact.reachable = False
        lost = await send()
        assert lost["result"] == "sent"  # Meta took it…
        await wait_until(lambda: _failed(env, lost["outbox_id"]))  # …then failed it
        contact.reachable = True

        held_code, lost_code = _sent_code(env, held["wamid"]), _sent_code(env, lost["wamid"])
        if lost_code != held_code:  # the one nobody got verifies no more
            nothing = await verify(lost_code)
            assert (nothing["valid"], nothing["detail"]) == (
                False,
                "the code was not delivered: 131026",
            )
        back = await verify(held_code)
        assert (back["valid"], back["reason"]) == (True, "ok")
        # The failed send used none of the hour's two.
        again = await send()
        assert again["result"] == "sent"
        capped = await send()
        assert (capped["result"], capped["reason"]) == ("refused", "2 codes already sent this hour")
    row = await env.daemon.store.fetchrow(
        "SELECT window_sends, failed_outbox_id FROM otp_codes WHERE purpose = 'login'"
    )
    assert row is not None
    assert (row["window_sends"], row["failed_outbox_id"]) == (2, None)


async def test_the_only_code_failing_leaves_none_told_and_uncounted(env: Env) -> None:
    """No code was held before: a guess finds no code (not a wrong one, which would
    spend an attempt on a code nobody has) and is told why."""
    env.sim.world.contacts[CONTACT].reachable = False
    async with connect(Path(env.daemon.control_socket)) as client:
        lost = await client.call("otp.send", {"chip": CHIP, "to": CONTACT, "purpose": "x"})
        assert lost["result"] == "sent"
        await wait_until(lambda: _failed(env, lost["outbox_id"]))
        told = await client.call("otp.verify", {"to": CONTACT, "purpose": "x", "code": "1"})
    assert (told["reason"], told["detail"]) == ("no_code", "the code was not delivered: 131026")
    row = await env.daemon.store.fetchrow("SELECT window_sends FROM otp_codes")
    assert row is not None
    assert row["window_sends"] == 0
