"""The actor that owns one phone number ("chip").

Why an actor per number: everything that decides whether a message may go out now —
windows, quality, tier, throughput — is per number and changes with every send and
webhook. One task owning it means no locks and no lost updates. Here it holds and
persists its basic state (status, quality, tier, pause); the sending rules join it in
later milestones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import assert_never

import trio

from actors.base import Actor
from actors.chip.messages import ChipMsg, ChipSnapshot, GetSnapshot, Pause, Resume
from actors.ports import ChipRecord, ChipRepo

__all__ = ["ChipActor"]


class ChipActor(Actor[ChipMsg]):
    def __init__(
        self,
        *,
        initial: ChipRecord,
        repo: ChipRepo,
        inbox: trio.MemoryReceiveChannel[ChipMsg],
        now: Callable[[], dt.datetime],
        generation: int = 0,
    ) -> None:
        super().__init__(f"chip:{initial.phone_number_id}", inbox)
        self._initial = initial
        self._repo = repo
        self._now = now
        self._generation = generation
        self.record = initial

    async def load(self) -> None:
        stored = await self._repo.load(self._initial.phone_number_id)
        if stored is None:
            self.record = dataclasses.replace(self._initial, updated_at=self._now())
            await self._repo.save(self.record)
        else:
            # The config owns identity and declared limits; storage owns live state.
            self.record = dataclasses.replace(
                stored,
                waba_id=self._initial.waba_id,
                display_number=self._initial.display_number,
                throughput_mps=self._initial.throughput_mps,
            )

    async def handle(self, msg: ChipMsg) -> None:
        match msg:
            case GetSnapshot(reply=reply):
                reply.ok(ChipSnapshot(record=self.record, restarts=self._generation))
            case Pause(reason=reason, reply=reply):
                await self._update(paused=True, pause_reason=reason)
                reply.ok(self.record)
            case Resume(reply=reply):
                await self._update(paused=False, pause_reason=None)
                reply.ok(self.record)
            case _:
                assert_never(msg)

    async def _update(self, **changes: object) -> None:
        # Persist before the new state becomes visible: a crash never shows a state
        # that storage does not have.
        new = dataclasses.replace(self.record, **changes, updated_at=self._now())  # type: ignore[arg-type]
        await self._repo.save(new)
        self.record = new
