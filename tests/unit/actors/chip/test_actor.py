from __future__ import annotations

import dataclasses

import pytest
import trio

from actors.chip import ChipActor, ChipMsg, GetSnapshot, Pause, Resume
from actors.core import Mailbox, ReplyTo, open_mailbox
from actors.ports import ChipRecord
from tests.fakes import FakeChipRepo, FixedClock

INITIAL = ChipRecord(
    phone_number_id="200000000000001", waba_id="100000000000001", display_number="+55 11 94000-0001"
)


async def _start(repo: FakeChipRepo, box: Mailbox[ChipMsg], nursery: trio.Nursery) -> ChipActor:
    actor = ChipActor(initial=INITIAL, repo=repo, inbox=box.inbox, now=FixedClock())
    await nursery.start(actor.run)
    return actor


async def test_first_start_persists_the_configured_record() -> None:
    repo = FakeChipRepo()
    box: Mailbox[ChipMsg] = open_mailbox("chip")
    async with trio.open_nursery() as n:
        await _start(repo, box, n)
        snap = await box.address.call(lambda r: GetSnapshot(reply=r))
        box.close()
    assert snap.record.phone_number_id == INITIAL.phone_number_id
    assert repo.rows[INITIAL.phone_number_id].updated_at == FixedClock()()


async def test_pause_survives_a_rebuild_from_storage() -> None:
    repo = FakeChipRepo()
    box: Mailbox[ChipMsg] = open_mailbox("chip")
    async with trio.open_nursery() as n:
        first = await _start(repo, box, n)
        await box.address.call(lambda r: Pause(reason="quality RED", reply=r))
        n.cancel_scope.cancel()
    assert first.record.paused
    async with trio.open_nursery() as n:
        await _start(repo, box, n)  # same mailbox, new instance: a restart
        snap = await box.address.call(lambda r: GetSnapshot(reply=r))
        resumed = await box.address.call(lambda r: Resume(reply=r))
        box.close()
    assert snap.record.paused
    assert snap.record.pause_reason == "quality RED"
    assert not resumed.paused
    assert not repo.rows[INITIAL.phone_number_id].paused


async def test_config_wins_for_identity_and_declared_limits() -> None:
    repo = FakeChipRepo()
    repo.rows[INITIAL.phone_number_id] = dataclasses.replace(
        INITIAL, display_number="old", throughput_mps=10, quality_rating="YELLOW"
    )
    box: Mailbox[ChipMsg] = open_mailbox("chip")
    async with trio.open_nursery() as n:
        await _start(repo, box, n)
        snap = await box.address.call(lambda r: GetSnapshot(reply=r))
        box.close()
    assert snap.record.display_number == INITIAL.display_number
    assert snap.record.throughput_mps == 80
    assert snap.record.quality_rating == "YELLOW"


class FailingRepo(FakeChipRepo):
    async def save(self, record: ChipRecord) -> None:
        if record.paused:
            raise ConnectionError("storage down")
        await super().save(record)


async def test_state_is_not_changed_when_persisting_fails() -> None:
    repo = FailingRepo()
    box: Mailbox[ChipMsg] = open_mailbox("chip")
    with pytest.RaisesGroup(ConnectionError):
        async with trio.open_nursery() as n:
            actor = await _start(repo, box, n)
            await box.address.cast(Pause(reason="x", reply=ReplyTo()))
    assert not actor.record.paused
