"""The actor that owns one WhatsApp Business Account.

Why: account restrictions, bans and payment stops apply to every number of the account
at once. This actor folds account events into the WABA's kill switch (pure rules in
:mod:`actors.waba.killswitch`), journals each effect, and tells its chips, which lay the
switch over their own quality policy. Templates join it in a later milestone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import assert_never

import trio

from actors.base import Actor
from actors.ports import WabaRecord, WabaRepo
from actors.waba.killswitch import KillSwitch, WabaEffect, apply
from actors.waba.messages import AccountEvent, GetWabaSnapshot, WabaMsg, WabaSnapshot

__all__ = ["WabaActor"]


class WabaActor(Actor[WabaMsg]):
    def __init__(
        self,
        *,
        initial: WabaRecord,
        chips: tuple[str, ...],
        repo: WabaRepo,
        inbox: trio.MemoryReceiveChannel[WabaMsg],
        now: Callable[[], float],
        broadcast: Callable[[KillSwitch], Awaitable[None]],
    ) -> None:
        super().__init__(f"waba:{initial.waba_id}", inbox)
        self._initial = initial
        self._chips = chips
        self._repo = repo
        self._now = now
        self._broadcast = broadcast
        self.record = initial
        self.switch = KillSwitch()

    async def load(self) -> None:
        stored = await self._repo.load(self._initial.waba_id)
        if stored is None:
            self.record = dataclasses.replace(self._initial)
            await self._repo.save(self.record)
        else:
            self.record = dataclasses.replace(stored, name=self._initial.name)
        switch = KillSwitch()
        for at, data in await self._repo.load_effects(self.record.waba_id):
            switch = apply(switch, WabaEffect(**data), at)
        self.switch = switch
        if switch.active(self._now()):
            await self._broadcast(switch)

    async def handle(self, msg: WabaMsg) -> None:
        match msg:
            case GetWabaSnapshot(reply=reply):
                reply.ok(WabaSnapshot(record=self.record, chips=self._chips, switch=self.switch))
            case AccountEvent(effect=effect, at=at):
                if effect.kill is None:
                    return
                await self._repo.save_effect(self.record.waba_id, at, dataclasses.asdict(effect))
                self.switch = apply(self.switch, effect, at)
                restricted = bool(self.switch.active(self._now()))
                if restricted != self.record.restricted:
                    self.record = dataclasses.replace(self.record, restricted=restricted)
                    await self._repo.save(self.record)
                await self._broadcast(self.switch)
            case _:
                assert_never(msg)
