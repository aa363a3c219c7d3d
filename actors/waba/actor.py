"""The actor that owns one WhatsApp Business Account.

Why: templates, account restrictions and bans are per WABA and affect every number in
it; one owner keeps them consistent. In this milestone it holds and persists the
account's basic state; templates and account events join it later.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import assert_never

import trio

from actors.base import Actor
from actors.ports import WabaRecord, WabaRepo
from actors.waba.messages import GetWabaSnapshot, WabaMsg, WabaSnapshot

__all__ = ["WabaActor"]


class WabaActor(Actor[WabaMsg]):
    def __init__(
        self,
        *,
        initial: WabaRecord,
        chips: tuple[str, ...],
        repo: WabaRepo,
        inbox: trio.MemoryReceiveChannel[WabaMsg],
        now: Callable[[], dt.datetime],
    ) -> None:
        super().__init__(f"waba:{initial.waba_id}", inbox)
        self._initial = initial
        self._chips = chips
        self._repo = repo
        self._now = now
        self.record = initial

    async def load(self) -> None:
        stored = await self._repo.load(self._initial.waba_id)
        if stored is None:
            self.record = dataclasses.replace(self._initial, updated_at=self._now())
            await self._repo.save(self.record)
        else:
            self.record = dataclasses.replace(stored, name=self._initial.name)

    async def handle(self, msg: WabaMsg) -> None:
        match msg:
            case GetWabaSnapshot(reply=reply):
                reply.ok(WabaSnapshot(record=self.record, chips=self._chips))
            case _:
                assert_never(msg)
