"""Several daemons on one campaign: what is claimed, reclaimed and still outstanding."""

from __future__ import annotations

import pytest

from actors.ports import OutboxRow
from daemon.store import Store
from tests.integration.store.support import CHIP, running_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.trio]


async def _journal(store: Store, key: str) -> int:
    row = OutboxRow(CHIP, key, "template", {"to": key}, {}, "c1", key)
    (outbox_id,) = await store.chip_journal.outbox_new([row])
    assert outbox_id is not None
    return outbox_id


async def test_a_message_a_chip_still_holds_keeps_the_campaign_outstanding(store: Store) -> None:
    """Nothing left to claim is not the end: a daemon that called the campaign finished
    while another's chips still held its messages let a stop cancel them for good."""
    await running_campaign(store, ["r1", "r2"])
    claimed = await store.campaigns.claim("c1", limit=10, stale_s=60)
    assert [r.key for r in claimed] == ["r1", "r2"]
    assert await store.campaigns.outstanding("c1") == 2  # handed, nothing journalled
    first, second = await _journal(store, "r1"), await _journal(store, "r2")
    assert await store.campaigns.outstanding("c1") == 2  # queued in a chip
    await store.chip_journal.outbox_sending([first, second])
    assert await store.campaigns.outstanding("c1") == 2  # being sent
    await store.chip_journal.outbox_set(first, "accepted", wamid="wamid.1")
    await store.chip_journal.outbox_set(second, "in_doubt", error={"reason": "no answer"})
    assert await store.campaigns.outstanding("c1") == 0  # left the chips (one in doubt)


async def test_a_cancelled_message_is_outstanding_and_reclaimed_once_stale(store: Store) -> None:
    await running_campaign(store, ["r1"])
    await store.campaigns.claim("c1", limit=10, stale_s=60)
    outbox_id = await _journal(store, "r1")
    await store.chip_journal.outbox_set(outbox_id, "cancelled", error={"reason": "stopped"})
    assert await store.campaigns.outstanding("c1") == 1
    assert await store.campaigns.claim("c1", limit=10, stale_s=60) == []  # not stale yet
    again = await store.campaigns.claim("c1", limit=10, stale_s=0)
    assert [r.key for r in again] == ["r1"]


async def test_a_message_its_chip_abandons_puts_its_recipient_back_to_pending(
    store: Store,
) -> None:
    """A chip that starts again (a crash, or another daemon took it over) cancels what it
    held: those recipients are pending again at once, while one being sent stays handed
    (in doubt: Meta may have it). They used to stay handed, in flight for ever on a paused
    campaign, until some runner started again."""
    await running_campaign(store, ["r1", "r2"])
    await store.campaigns.claim("c1", limit=10, stale_s=60)
    queued, sending = await _journal(store, "r1"), await _journal(store, "r2")
    await store.chip_journal.outbox_sending([sending])
    assert await store.chip_journal.settle_abandoned(CHIP) == 2
    states = {
        r["recipient_key"]: r["state"]
        for r in await store.fetch(
            "SELECT recipient_key, state FROM campaign_recipients WHERE campaign_id = 'c1'"
        )
    }
    assert states == {"r1": "pending", "r2": "handed"}
    rows = {
        r["id"]: r["state"]
        for r in await store.fetch(
            "SELECT id, state FROM outbox WHERE id = ANY($1)", [queued, sending]
        )
    }
    assert rows == {queued: "cancelled", sending: "in_doubt"}
    again = await store.campaigns.claim("c1", limit=10, stale_s=60)
    assert [r.key for r in again] == ["r1"]
