"""A running campaign's figures on real PostgreSQL add up to its total at every moment.

Why: a recipient's "handed" mark is written in batches after its hand-over, while its
outbox row is written by the chip. An operator saw ``TOTAL 2000 PENDING 1936 SENT 66``
(2,002) during a run: the recipients journalled since the last batch of marks counted
as pending and as sent.
"""

from __future__ import annotations

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
    keys = [f"r{n}" for n in range(9)]
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

    p = await store.campaigns.progress("c1")

    assert p["total"] == 9
    assert sum(p[k] for k in _PARTS) == 9
    assert (p["pending"], p["in_flight"], p["sent"], p["in_doubt"]) == (2, 2, 2, 1)
    assert (p["skipped"], p["refused"], p["dropped"]) == (1, 1, 0)
