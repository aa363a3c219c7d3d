"""The window keeper against the simulator: one follow-up per marked window."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from daemon.control.client import ControlError, connect
from tests.integration.daemon.conftest import CHIP, CONTACT, Env, wait_until

KEEPER = """
[keeper]
text = "Ainda por aí?"
lead_h = 24
interval_s = 0.05
quiet_start = "00:00"
quiet_end = "00:00"
"""


def _follow_ups(env: Env) -> int:
    return sum(
        1
        for m in env.sim.world.messages.values()
        if m.type == "text" and m.payload["text"]["body"] == "Ainda por aí?"
    )


@pytest.mark.config(KEEPER)
async def test_a_marked_conversation_gets_one_follow_up_per_window(env: Env) -> None:
    env.sim.world.contacts[CONTACT].replies = False  # only the test writes as the contact
    async with connect(Path(env.daemon.control_socket)) as client:
        mark = await client.call("window.keep", {"chip": CHIP, "contact": CONTACT})
        assert mark["active"] is True
        assert mark["window_expiry"] is None  # the daemon has not seen the contact yet
        await trio.sleep(0.3)
        assert _follow_ups(env) == 0  # no window known: nothing to keep
        env.sim.inbound(CHIP, CONTACT, {"type": "text", "text": {"body": "oi"}})
        await wait_until(lambda: _follow_ups(env) == 1)
        await trio.sleep(0.5)  # ten more ticks
        assert _follow_ups(env) == 1
        kept = await client.call("window.kept")
        assert [(k["contact"], k["last_result"]) for k in kept] == [(CONTACT, "sent")]
        # The contact writes again (a new window): one more, and only one.
        await trio.sleep(1.1)  # webhook timestamps are whole seconds
        env.sim.inbound(CHIP, CONTACT, {"type": "text", "text": {"body": "oi de novo"}})
        await wait_until(lambda: _follow_ups(env) == 2)
        await trio.sleep(0.5)
        assert _follow_ups(env) == 2
        gone = await client.call("window.keep", {"chip": CHIP, "contact": CONTACT, "active": False})
        assert gone["removed"] is True
        with pytest.raises(ControlError, match="unknown chip"):
            await client.call("window.keep", {"chip": "999", "contact": CONTACT})


@pytest.mark.config(KEEPER)
async def test_a_follow_up_meta_failed_after_taking_it_reads_failed(env: Env) -> None:
    """It read "sent" for good: only the chip's answer (Meta took it) was kept."""
    contact = env.sim.world.contacts[CONTACT]
    contact.replies = False
    async with connect(Path(env.daemon.control_socket)) as client:
        await client.call("window.keep", {"chip": CHIP, "contact": CONTACT})
        env.sim.inbound(CHIP, CONTACT, {"type": "text", "text": {"body": "oi"}})
        contact.reachable = False  # taken, then failed by a status webhook (131026)
        await wait_until(lambda: _follow_ups(env) == 1)

        async def failed() -> bool:
            kept = await client.call("window.kept")
            return [(k["last_result"], k["last_error_code"]) for k in kept] == [("failed", 131026)]

        await wait_until(failed)


@pytest.mark.config(KEEPER.replace('quiet_start = "00:00"', 'quiet_start = "00:00:01"'))
async def test_nothing_is_sent_in_quiet_hours(env: Env) -> None:
    env.sim.world.contacts[CONTACT].replies = False
    async with connect(Path(env.daemon.control_socket)) as client:
        await client.call("window.keep", {"chip": CHIP, "contact": CONTACT})
        env.sim.inbound(CHIP, CONTACT, {"type": "text", "text": {"body": "oi"}})

        async def window_known() -> bool:
            kept = await client.call("window.kept")
            return kept[0]["window_expiry"] is not None

        await wait_until(window_known)
        await trio.sleep(0.3)
    assert _follow_ups(env) == 0
