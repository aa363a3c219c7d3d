"""Budget end to end: reserve before a paid send, settle from Meta's price, refuse at a cap."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from actors.chip import Refused, Send, Sent
from daemon.control.client import connect
from tests.integration.daemon.conftest import CHIP, CONTACT, Env, wait_until

UTILITY = {"name": "hello_world", "language": {"code": "en_US"}}


async def _ledger(env: Env, outbox_id: int) -> list[tuple[str, Decimal]]:
    rows = await env.daemon.store.fetch(
        "SELECT kind, amount_usd FROM budget_ledger WHERE ref = $1 ORDER BY id", f"o:{outbox_id}"
    )
    return [(r["kind"], r["amount_usd"]) for r in rows]


async def test_utility_template_is_reserved_then_settled_at_metas_price(env: Env) -> None:
    chip = env.daemon.fleet.chip(CHIP)
    sent = await chip.call(
        lambda r: Send(to=CONTACT, template=UTILITY, category="utility", reply=r), timeout=30
    )
    assert isinstance(sent, Sent)

    async def settled() -> bool:
        return any(kind == "settlement" for kind, _ in await _ledger(env, sent.outbox_id))

    await wait_until(settled)
    ledger = await _ledger(env, sent.outbox_id)
    assert ledger[0] == ("reservation", Decimal("0.006800"))
    # The simulator bills the template in its own category (hello_world is UTILITY).
    assert ledger[-1][0] == "settlement"
    async with connect(Path(env.daemon.control_socket)) as client:
        status = await client.call("budget.status")
    assert Decimal(status["day"]["spent"]) == ledger[-1][1]


@pytest.mark.config("[budget]\ndaily_usd = 0.01")
async def test_a_send_that_would_cross_the_daily_cap_is_refused(env: Env) -> None:
    # 0.01 USD a day: one utility message (0.0068) fits, a second does not.
    chip = env.daemon.fleet.chip(CHIP)
    contacts = list(env.sim.world.contacts)[:3]
    results = [
        await chip.call(
            lambda r, c=c: Send(to=c, template=UTILITY, category="utility", reply=r), timeout=30
        )
        for c in contacts
    ]
    assert isinstance(results[0], Sent)
    refused = [r for r in results if isinstance(r, Refused)]
    assert refused
    assert refused[0].reason.startswith("budget: daily cap would be crossed")
