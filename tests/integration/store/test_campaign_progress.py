"""A campaign's figures on real PostgreSQL: its progress adds up to its total at every
moment, and what it spent before a month is what its budget has used.

Why: a recipient's "handed" mark is written in batches after its hand-over, while its
outbox row is written by the chip. An operator saw ``TOTAL 2000 PENDING 1936 SENT 66``
(2,002) during a run: the recipients journalled since the last batch of marks counted
as pending and as sent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from daemon.store import Store
from tests.integration.store.support import CHIP, running_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.trio]

_PARTS = ("pending", "in_flight", "sent", "in_doubt", "skipped", "refused", "dropped")


async def _outbox(store: Store, recipient: str, state: str) -> None:
    await store.execute(
        "INSERT INTO outbox (chip, wa_id, kind, payload, state, campaign_id, recipient_id)"
        " VALUES ($1, '5511900000001', 'template', '{}', $2, 'c1', $3)",
        CHIP,
        state,
        recipient,
    )


async def _mark(store: Store, recipient: str, state: str) -> None:
    await store.execute(
        "UPDATE campaign_recipients SET state = $2 WHERE campaign_id = 'c1' AND recipient_key = $1",
        recipient,
        state,
    )


async def test_every_recipient_counts_once_whatever_its_mark_says(store: Store) -> None:
    keys = [f"r{n}" for n in range(10)]
    await running_campaign(store, keys)
    await _outbox(store, "r0", "delivered")  # journalled, its mark not written yet
    await _outbox(store, "r1", "queued")  # the same, not POSTed yet
    await _mark(store, "r2", "handed")  # in a chip's mailbox: no outbox row yet
    await _mark(store, "r3", "handed")
    await _outbox(store, "r3", "read")
    await _mark(store, "r4", "handed")
    await _outbox(store, "r4", "in_doubt")
    await _mark(store, "r5", "skipped")
    await _mark(store, "r6", "refused")
    await _outbox(store, "r6", "cancelled")  # refused by the chip before its POST
    await _outbox(store, "r7", "cancelled")  # a transient refusal: pending again
    # r8: pending, never handed over
    await _mark(store, "r9", "refused")  # Meta failed it: sent (and failed), not refused
    await _outbox(store, "r9", "failed")

    p = await store.campaigns.progress("c1")

    assert p["total"] == 10
    assert sum(p[k] for k in _PARTS) == 10
    assert (p["pending"], p["in_flight"], p["sent"], p["in_doubt"]) == (2, 2, 3, 1)
    assert p["failed"] == 1
    assert (p["skipped"], p["refused"], p["dropped"]) == (1, 1, 0)


async def test_spent_before_a_month_counts_each_message_as_the_ledger_does(store: Store) -> None:
    """What ``budget_usd`` has left for a month: the campaign's messages booked before
    it, each at its latest price, else its reservation while still open."""
    await running_campaign(store, [])
    oct_ = dt.datetime(2026, 10, 30, 12, tzinfo=dt.UTC)
    nov = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
    entries = [
        ("reservation", "o:1", "0.0625", oct_),  # priced in November at its real price
        ("settlement", "o:1", "0.05", nov),
        ("settlement", "o:1", "0.04", nov),  # a second price replaces the first
        ("reservation", "o:2", "0.06", oct_),  # still open
        ("reservation", "o:3", "0.07", oct_),  # released: never went
        ("release", "o:3", "0.07", oct_),
        ("reservation", "o:4", "0.08", nov),  # November's own
        ("reservation", "o:5", "0.09", oct_),  # another campaign's
    ]
    for kind, ref, amount, at in entries:
        await store.execute(
            "INSERT INTO budget_ledger (kind, ref, amount_usd, at, campaign_id)"
            " VALUES ($1, $2, $3::numeric, $4, $5)",
            kind,
            ref,
            amount,
            at,
            "c2" if ref == "o:5" else "c1",
        )
    november = dt.datetime(2026, 11, 1, 3, tzinfo=dt.UTC)
    assert await store.campaigns.spent_before("c1", november) == Decimal("0.10")
    assert await store.campaigns.spent_before("c1", oct_) == Decimal(0)
    assert await store.campaigns.spent_before("nope", november) == Decimal(0)
