"""A shift offer's message that Meta fails before the send's own answer is recorded.

The status webhook (the inbox processor's taps) and the send's answer (the shift
service) race: when the failure is told first it finds no offer carrying that message
yet, and the offer stayed pending in its row (seen as a flaky integration test)."""

from __future__ import annotations

import dataclasses
from typing import Any

import trio

from actors.chip.messages import Send, Sent
from actors.core import Mailbox, open_mailbox
from config.features import ShiftsConfig
from daemon.otp.shifts import ShiftService
from daemon.store.otp import ShiftOffer

OUTBOX_ID, WAMID = 41, "wamid.41"


class _Offers:
    def __init__(self) -> None:
        self.offer: ShiftOffer | None = None

    async def stage(self, shift_id: str, key: str, nonce: str, chip: str, refuse: Any) -> None:
        self.offer = ShiftOffer(shift_id, key, None, chip, "pending", pending_nonce=nonce)

    async def sent(self, shift_id: str, key: str, nonce: str, chip: str, outbox_id: int | None,
                   *, force: bool) -> ShiftOffer | None:  # fmt: skip
        assert self.offer is not None
        self.offer = dataclasses.replace(self.offer, nonce=nonce, outbox_id=outbox_id)
        return self.offer

    async def failed(
        self, outbox_id: int | None, wamid: str, code: int | None
    ) -> ShiftOffer | None:
        offer = self.offer
        if offer is None or offer.state != "pending" or offer.outbox_id != outbox_id:
            return None
        self.offer = dataclasses.replace(offer, state="failed", error_code=code)
        return self.offer


class _Contacts:
    async def key(self, ident: str) -> str | None:
        return ident


async def test_a_failure_told_before_the_send_is_recorded_fails_the_offer() -> None:
    offers, published = _Offers(), []
    box: Mailbox[Send] = open_mailbox("chip")
    service = ShiftService(
        ShiftsConfig(),
        offers=offers,  # type: ignore[arg-type]
        contacts=_Contacts(),  # type: ignore[arg-type]
        chip=lambda pnid: box.address,
        publish=lambda kind, data: published.append((kind, data)),
    )

    async def chip(task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        send = await box.inbox.receive()
        # Meta took it and failed it at once: the webhook is told before the answer.
        assert await service.undelivered(OUTBOX_ID, WAMID, 131026, "555") is None
        send.reply.ok(Sent(OUTBOX_ID, WAMID, "template"))

    async with trio.open_nursery() as nursery:
        await nursery.start(chip)
        answer = await service.send("555", "5511987654321", "V1002")
    assert answer["result"] == "sent"
    assert offers.offer is not None
    assert (offers.offer.state, offers.offer.error_code) == ("failed", 131026)
    assert [d["state"] for kind, d in published if kind == "shift"] == ["failed"]
