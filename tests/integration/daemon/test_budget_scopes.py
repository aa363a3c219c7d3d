"""Per-WABA caps and the alert webhook, end to end: real daemon, PostgreSQL, simulator."""

from __future__ import annotations

import pytest
import trio

from actors.chip import Refused, Send, Sent
from tests.integration.daemon.conftest import CHIP, Env, wait_until
from tests.receiver import Receiver
from tests.support import free_port

UTILITY = {"name": "hello_world", "language": {"code": "en_US"}}
WABA = "100000000000001"
ALERT_PORT = free_port()


async def _send_utility(env: Env, count: int) -> list[object]:
    chip = env.daemon.fleet.chip(CHIP)
    return [
        await chip.call(
            lambda r, c=c: Send(to=c, template=UTILITY, category="utility", reply=r), timeout=30
        )
        # Not the first two contacts: the first is always inside a free window in the
        # simulator, so its settlement (0) could free the cap for a later send.
        for c in list(env.sim.world.contacts)[2 : 2 + count]
    ]


@pytest.mark.config(
    f'[budget]\ndaily_usd = 50\n[[budget.wabas]]\nwaba = "{WABA}"\ndaily_usd = 0.01'
)
async def test_a_wabas_own_cap_refuses_its_sends_below_the_global_cap(env: Env) -> None:
    first, *rest = await _send_utility(env, 3)
    assert isinstance(first, Sent)
    refused = [r for r in rest if isinstance(r, Refused)]
    assert refused
    assert refused[0].reason.startswith(f"budget: WABA {WABA} daily cap would be crossed")
    rows = await env.daemon.store.fetch(
        "SELECT kind, waba_id FROM budget_ledger WHERE kind = 'reservation'"
    )
    assert [(r["kind"], r["waba_id"]) for r in rows] == [("reservation", WABA)]


@pytest.mark.config(
    f'[budget]\ndaily_usd = 0.01\nalert_webhook_url = "http://127.0.0.1:{ALERT_PORT}/alerts"'
)
async def test_each_alert_is_posted_once_to_the_webhook(env: Env) -> None:
    receiver = Receiver(statuses=[503])  # the first attempt fails: retried
    await env.nursery.start(receiver.serve, ALERT_PORT)
    first, second = await _send_utility(env, 2)
    assert isinstance(first, Sent)  # 0.0068 of 0.01: the 50 % threshold
    assert isinstance(second, Refused)
    await wait_until(lambda: len(receiver.bodies) >= 1, timeout=10)

    async def settled() -> bool:
        n = await env.daemon.store.fetchval(
            "SELECT count(*) FROM budget_ledger WHERE kind = 'settlement'"
        )
        return int(n) == 1

    await wait_until(settled)
    await trio.sleep(0.3)  # a duplicate would have arrived by now
    assert receiver.attempts == 2
    (alert,) = receiver.bodies
    assert alert["event"] == "budget.alert"
    assert (alert["scope"], alert["period"], alert["threshold"]) == ("global", "day", "0.5")
    assert alert["message"].startswith("budget: daily cap at 50%")
