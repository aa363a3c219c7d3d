"""Rows the store tests start from, shared so each test says only what it adds."""

from __future__ import annotations

from actors.ports import ChipRecord
from daemon.store import Store
from daemon.store.campaigns import RecipientInput

__all__ = ["CHIP", "running_campaign"]

CHIP = "555"


async def running_campaign(store: Store, keys: list[str], campaign_id: str = "c1") -> None:
    """Chip :data:`CHIP` and a running campaign over recipients ``keys``, none claimed."""
    await store.chips.save(ChipRecord(phone_number_id=CHIP, waba_id="200", display_number="+1"))
    await store.campaigns.create(
        campaign_id=campaign_id,
        spec={},
        file=None,
        cap_usd=None,
        recipients=[RecipientInput(k, f"55119{n:08d}", {}, n) for n, k in enumerate(keys)],
    )
    await store.campaigns.set_state(campaign_id, "running")
