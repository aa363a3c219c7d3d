"""Conversation affinity on real PostgreSQL: the chip of ours that talked with each
recipient last, found by joins (the planner probes indexes for a small campaign and
hashes a big one), not by a lookup per recipient."""

from __future__ import annotations

import pytest

from actors.ports import ChipRecord
from daemon.store import Store
from tests.integration.store.support import CHIP, running_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.trio]


async def test_affinity_is_the_chip_that_talked_with_the_contact_last(store: Store) -> None:
    """Among the given chips, by its window or a message it sent (not one still queued
    or failed), the latest wins; contacts nobody talked with have none."""
    await running_campaign(store, ["r1", "r2", "r3", "r4"])
    for chip in ("666", "777", "888"):
        await store.chips.save(ChipRecord(phone_number_id=chip, waba_id="200", display_number=chip))
    numbers = {n: f"55119{n:08d}" for n in range(4)}  # running_campaign's numbering

    async def sent(chip: str, n: int, hours_ago: int, state: str = "read") -> None:
        await store.execute(
            "INSERT INTO outbox (chip, wa_id, kind, payload, state, created_at)"
            " VALUES ($1, $2, 'text', '{}', $3, now() - make_interval(hours => $4))",
            chip,
            numbers[n],
            state,
            hours_ago,
        )

    await sent(CHIP, 0, 5)
    await sent("666", 0, 2)  # later: 666 for the first contact
    await store.execute(
        "INSERT INTO windows (chip, wa_id, kind, opened_at, expires_at)"
        " VALUES ('777', $1, 'service', now() - interval '1 hour', now() + interval '1 day')",
        numbers[1],
    )
    await sent(CHIP, 1, 3)  # older than the window: 777 for the second
    await sent("666", 2, 1, state="failed")  # never reached the contact
    await sent("888", 2, 1)  # a chip not given
    affinity = await store.campaigns.affinity("c1", [CHIP, "666", "777"])
    assert affinity == {numbers[0]: "666", numbers[1]: "777"}
