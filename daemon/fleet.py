"""Builds the fleet of actors from the config: one per WABA, one per chip.

Why a separate module: the mailboxes must outlive any one actor instance (addresses stay
valid across restarts), so they are created once here and each child spec closes over
its mailbox; every (re)start builds a fresh actor that reloads from storage.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import trio

from actors.budget.coordinator import BudgetCoordinator
from actors.budget.ledger import Ledger
from actors.budget.messages import BudgetClient, BudgetMsg
from actors.budget.ports import BudgetJournal, SharedJournal
from actors.budget.values import Registered
from actors.chip import (
    ChipActor,
    ChipMsg,
    ChipSettings,
    ChipSnapshot,
    GetSnapshot,
    WabaSwitch,
    WabaTemplates,
)
from actors.core import ActorStopped, Address, Mailbox, open_mailbox
from actors.policy.pricing import PriceTable
from actors.ports import (
    ChipJournal,
    ChipRecord,
    ChipRepo,
    GraphPort,
    TemplateRecord,
    TemplateRepo,
    TemplateSource,
    WabaRecord,
    WabaRepo,
)
from actors.waba import GetWabaSnapshot, WabaActor, WabaMsg, WabaSnapshot
from actors.waba.killswitch import KillSwitch
from config import MetadConfig
from daemon.logs import log_context
from daemon.supervisor import ChildSpec, Supervisor

__all__ = ["Fleet", "FleetSnapshot", "digits"]


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    wabas: tuple[WabaSnapshot, ...]
    chips: tuple[ChipSnapshot, ...]


class Fleet:
    """The chip and WABA actors of one daemon, by id."""

    def __init__(
        self,
        cfg: MetadConfig,
        *,
        chips: ChipRepo,
        wabas: WabaRepo,
        journal: ChipJournal,
        graph: GraphPort,
        budget_journal: BudgetJournal,
        supervisor: Supervisor,
        templates: TemplateRepo | None = None,
        template_source: TemplateSource | None = None,
        now: Callable[[], float] = time.time,
        publish: Callable[[str, dict[str, Any]], None] = lambda kind, data: None,
    ) -> None:
        self._cfg = cfg
        self._chip_repo = chips
        self._waba_repo = wabas
        self._journal = journal
        self._graph = graph
        self._budget_journal = budget_journal
        self._templates = templates
        self._template_source = template_source
        self._publish = publish
        self._prices = PriceTable.from_config(cfg.pricing)
        self._budget: Mailbox[BudgetMsg] = open_mailbox("budget")
        self._chips_running = 0
        """Chip actors running now (see :meth:`close`)."""
        self._closing = False
        self._campaign_caps: dict[str, Registered] = {}  # outlives budget actor restarts
        self._supervisor = supervisor
        self._now = now
        self._settings = ChipSettings(cfg.windows, cfg.limits, cfg.quality)
        self._chips: dict[str, Mailbox[ChipMsg]] = {}
        self._wabas: dict[str, Mailbox[WabaMsg]] = {}
        self._by_display = {digits(c.display_number): c.phone_number_id for c in cfg.chips}
        self.shared_budget: SharedJournal | None = None
        """Set when several daemons book against the same caps (daemon.cluster)."""
        self.actors: dict[str, ChipActor] = {}
        """The live chip actor instances (for tests and benchmarks; never mutate)."""

    def specs(self, chips: Collection[str] | None = None) -> list[ChildSpec]:
        """Child specs in start order: the budget, the WABAs, then their chips (only
        ``chips`` when given: those this daemon holds a lease on, see daemon.cluster)."""
        specs: list[ChildSpec] = [ChildSpec("budget", self._budget_runner())]
        specs += [self.waba_spec(w.id) for w in self._cfg.wabas]
        specs += [
            self.chip_spec(c.phone_number_id)
            for c in self._cfg.chips
            if chips is None or c.phone_number_id in chips
        ]
        return specs

    # Every runner reads the config when it (re)starts, so that a reload which swaps the
    # config (:meth:`reconfigure`) and restarts an actor gives it the new values.

    def waba_spec(self, waba_id: str) -> ChildSpec:
        """Open the WABA's mailbox (its address from now on) and the spec that runs it."""
        box: Mailbox[WabaMsg] = open_mailbox(f"waba:{waba_id}")
        self._wabas[waba_id] = box
        return ChildSpec(box.address.actor_id, self._waba_runner(waba_id, box))

    def chip_spec(self, phone_number_id: str) -> ChildSpec:
        """Open the chip's mailbox (its address from now on) and the spec that runs it."""
        box: Mailbox[ChipMsg] = open_mailbox(f"chip:{phone_number_id}")
        self._chips[phone_number_id] = box
        return ChildSpec(box.address.actor_id, self._chip_runner(phone_number_id, box))

    def reconfigure(self, cfg: MetadConfig) -> None:
        """Use ``cfg`` from now on: actors (re)started later read it (config reload)."""
        self._cfg = cfg
        self._prices = PriceTable.from_config(cfg.pricing)
        self._settings = ChipSettings(cfg.windows, cfg.limits, cfg.quality)
        self._by_display = {digits(c.display_number): c.phone_number_id for c in cfg.chips}

    def close_chip(self, phone_number_id: str) -> None:
        """Close a removed chip's mailbox (it drains and returns) and forget its address."""
        box = self._chips.pop(phone_number_id, None)
        if box is not None:
            box.close()
        self.actors.pop(phone_number_id, None)

    def close_waba(self, waba_id: str) -> None:
        """Close a removed WABA's mailbox (it drains and returns) and forget its address."""
        self._wabas.pop(waba_id).close()

    @property
    def chip_ids(self) -> list[str]:
        return list(self._chips)

    def _budget_runner(self) -> Any:
        async def run(*, task_status: trio.TaskStatus[Any]) -> None:
            cfg = self._cfg
            actor = BudgetCoordinator(
                ledger=lambda: Ledger.from_config(cfg.budget, cfg.tz),
                prices=self._prices,
                journal=self._budget_journal,
                inbox=self._budget.inbox,
                now=self._now,
                publish=self._publish,
                campaign_caps=self._campaign_caps,
                shared=self.shared_budget,
            )
            await actor.run(task_status=task_status)

        return run

    @property
    def budget(self) -> Address[BudgetMsg]:
        return self._budget.address

    def _chip_runner(self, phone_number_id: str, box: Mailbox[ChipMsg]) -> Any:
        async def run(*, task_status: trio.TaskStatus[Any]) -> None:
            c = next(c for c in self._cfg.chips if c.phone_number_id == phone_number_id)
            record = ChipRecord(
                phone_number_id=c.phone_number_id,
                waba_id=c.waba,
                display_number=c.display_number,
                throughput_mps=c.throughput_mps,
            )
            actor = ChipActor(
                initial=record,
                repo=self._chip_repo,
                journal=self._journal,
                graph=self._graph,
                settings=self._settings,
                inbox=box.inbox,
                address=box.address,
                now=self._now,
                generation=self._supervisor.restarts(box.address.actor_id),
                budget=BudgetClient(self._budget.address),
                prices=self._prices,
                marketing_messages=self._cfg.waba(record.waba_id).marketing_messages,
            )
            self.actors[record.phone_number_id] = actor
            self._chips_running += 1
            try:
                with log_context(chip=phone_number_id, waba=record.waba_id):
                    await actor.run(task_status=task_status)
            finally:
                self._chips_running -= 1
                if self._closing and not self._chips_running:
                    self._budget.close()

        return run

    def _waba_runner(self, waba_id: str, box: Mailbox[WabaMsg]) -> Any:
        async def tell(numbers: tuple[str, ...], msg: ChipMsg) -> None:
            for number in numbers:
                chip = self._chips.get(number)
                if chip is None:  # removed by a reload; this WABA restarts without it
                    continue
                with contextlib.suppress(ActorStopped):
                    await chip.address.cast(msg)

        async def run(*, task_status: trio.TaskStatus[Any]) -> None:
            name = self._cfg.waba(waba_id).name
            numbers = tuple(c.phone_number_id for c in self._cfg.chips if c.waba == waba_id)

            async def broadcast(switch: KillSwitch) -> None:
                await tell(numbers, WabaSwitch(switch=switch))

            async def announce(records: tuple[TemplateRecord, ...]) -> None:
                await tell(numbers, WabaTemplates(records=records))

            actor = WabaActor(
                initial=WabaRecord(waba_id=waba_id, name=name),
                chips=numbers,
                repo=self._waba_repo,
                inbox=box.inbox,
                now=self._now,
                broadcast=broadcast,
                templates=self._templates,
                source=self._template_source,
                announce=announce,
            )
            with log_context(waba=waba_id):
                await actor.run(task_status=task_status)

        return run

    def chip(self, phone_number_id: str) -> Address[ChipMsg]:
        return self._chips[phone_number_id].address

    def find_chip(self, phone_number_id: str) -> Address[ChipMsg] | None:
        box = self._chips.get(phone_number_id)
        return box.address if box is not None else None

    def chip_by_display(self, display_number: str) -> Address[ChipMsg] | None:
        pnid = self.chip_id_by_display(display_number)
        return self.find_chip(pnid) if pnid is not None else None

    def chip_id_by_display(self, display_number: str) -> str | None:
        """The configured chip with this display number (its actor may run elsewhere)."""
        return self._by_display.get(digits(display_number))

    def waba(self, waba_id: str) -> Address[WabaMsg]:
        return self._wabas[waba_id].address

    @property
    def waba_ids(self) -> list[str]:
        return list(self._wabas)

    def find_waba(self, waba_id: str) -> Address[WabaMsg] | None:
        box = self._wabas.get(waba_id)
        return box.address if box is not None else None

    @property
    def counts(self) -> tuple[int, int]:
        return len(self._chips), len(self._wabas)

    def close(self) -> None:
        """Stop accepting messages; every actor drains its mailbox and returns.

        The budget's mailbox closes only once every chip has returned: a chip stopping
        releases the reservations of the sends it still holds, and with the budget gone
        first it crashed on the first release, leaving those rows queued."""
        self._closing = True
        for chip in self._chips.values():
            chip.close()
        for waba in self._wabas.values():
            waba.close()
        if not self._chips_running:
            self._budget.close()

    async def snapshot(self, timeout: float = 2.0) -> FleetSnapshot:
        wabas: list[WabaSnapshot] = [
            await box.address.call(lambda r: GetWabaSnapshot(reply=r), timeout=timeout)
            for box in self._wabas.values()
        ]
        chips: list[ChipSnapshot] = [
            await box.address.call(lambda r: GetSnapshot(reply=r), timeout=timeout)
            for box in self._chips.values()
        ]
        return FleetSnapshot(tuple(wabas), tuple(chips))
