"""A shift offer's row on real PostgreSQL: a failure Meta reported before the send's own
answer was recorded still fails the offer.

Why: the status webhook saying 131026 (not on WhatsApp) can be processed in the
milliseconds between Meta's 200 and the offer recording its outbox id; the webhook then
finds no offer with that id, and the offer stayed pending for good.
"""

from __future__ import annotations

import pytest

from daemon.store import Store
from daemon.store.otp import ShiftRepository
from tests.integration.store.support import CHIP, running_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.trio]

CONTACT = "5511900000001"


async def _outbox(store: Store, state: str, error: dict[str, object] | None) -> int:
    outbox_id: int = await store.fetchval(
        "INSERT INTO outbox (chip, wa_id, kind, payload, state, error)"
        " VALUES ($1, $2, 'template', '{}', $3, $4) RETURNING id",
        CHIP,
        CONTACT,
        state,
        error,
    )
    return outbox_id


@pytest.mark.parametrize(
    ("state", "error", "expected"),
    [
        ("failed", {"code": 131026, "title": "Message undeliverable"}, ("failed", 131026)),
        ("failed", {"reason": "expired"}, ("failed", None)),
        ("accepted", None, ("pending", None)),
    ],
)
async def test_an_offer_whose_message_failed_already_is_recorded_failed(
    store: Store, state: str, error: dict[str, object] | None, expected: tuple[str, int | None]
) -> None:
    await running_campaign(store, [])  # the chip
    offers = ShiftRepository(store)
    assert await offers.stage("V1", CONTACT, "n1", CHIP, lambda offer: None) is None
    outbox_id = await _outbox(store, state, error)
    offer = await offers.sent("V1", CONTACT, "n1", CHIP, outbox_id, force=False)
    assert offer is not None
    assert (offer.state, offer.error_code) == expected
