"""The actor that owns one WhatsApp Business Account.

Why: account restrictions, bans and payment stops apply to every number of the account
at once. This actor folds account events into the WABA's kill switch (pure rules in
:mod:`actors.waba.killswitch`), journals each effect, and tells its chips, which lay the
switch over their own quality policy. Templates join it in a later milestone.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import assert_never

import trio

from actors.base import Actor
from actors.ports import (
    PortError,
    TemplateRecord,
    TemplateRepo,
    TemplateSource,
    WabaRecord,
    WabaRepo,
)
from actors.waba.killswitch import KillSwitch, WabaEffect, apply
from actors.waba.messages import (
    AccountEvent,
    GetTemplates,
    GetWabaSnapshot,
    SyncTemplates,
    TemplateEvent,
    WabaMsg,
    WabaSnapshot,
)

log = logging.getLogger("metad.waba")

TemplateKey = tuple[str, str]
"""(name, language)"""

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
        templates: TemplateRepo | None = None,
        source: TemplateSource | None = None,
        announce: Callable[[tuple[TemplateRecord, ...]], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(f"waba:{initial.waba_id}", inbox)
        self._initial = initial
        self._chips = chips
        self._repo = repo
        self._now = now
        self._broadcast = broadcast
        self._template_repo = templates
        self._source = source
        self._announce = announce
        self.record = initial
        self.switch = KillSwitch()
        self.templates: dict[TemplateKey, TemplateRecord] = {}

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
        if self._template_repo is not None:
            loaded = await self._template_repo.load_templates(self.record.waba_id)
            self.templates = {(t.name, t.language): t for t in loaded}
            await self._tell_chips()

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
            case SyncTemplates(reply=reply):
                try:
                    reply.ok(await self._sync())
                except PortError as exc:  # Meta unreachable: report it, keep the registry
                    log.warning("%s", exc)
                    reply.fail(exc)
            case TemplateEvent():
                await self._template_event(msg)
            case GetTemplates(reply=reply):
                reply.ok(sorted(self.templates.values(), key=lambda t: (t.name, t.language)))
            case _:
                assert_never(msg)

    async def _sync(self) -> int:
        if self._source is None or self._template_repo is None:
            return 0
        fetched = await self._source.templates(self.record.waba_id)
        await self._template_repo.save_templates(fetched)
        self.templates = {(t.name, t.language): t for t in fetched}
        await self._tell_chips()
        return len(fetched)

    async def _template_event(self, msg: TemplateEvent) -> None:
        current = next(
            (
                t
                for t in self.templates.values()
                if (msg.template_id is not None and t.id == msg.template_id)
                or (t.name, t.language) == (msg.name, msg.language)
            ),
            None,
        )
        if current is None:
            if msg.name is None or msg.language is None:
                log.warning("template event for unknown template %s", msg.template_id)
                return
            current = TemplateRecord(
                waba_id=self.record.waba_id,
                name=msg.name,
                language=msg.language,
                id=msg.template_id,
            )
        changed = dataclasses.replace(
            current,
            status=(msg.status or current.status).upper(),
            quality=msg.quality or current.quality,
            category=(msg.category or current.category).upper(),
            reason=msg.reason or current.reason,
        )
        if changed == current:
            return
        if self._template_repo is not None:
            await self._template_repo.save_templates([changed])
        self.templates[(changed.name, changed.language)] = changed
        log.info(
            "template %s/%s of WABA %s: %s",
            changed.name,
            changed.language,
            self.record.waba_id,
            changed.status,
        )
        await self._tell_chips()

    async def _tell_chips(self) -> None:
        """Chips choose and check templates from the registry; they learn it from here."""
        if self._announce is not None:
            await self._announce(tuple(self.templates.values()))
