"""In-memory stand-ins for the budget coordinator's storage, shared by its tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import trio

from actors.budget.coordinator import BudgetCoordinator
from actors.budget.ledger import Ledger
from actors.budget.messages import BudgetClient, BudgetMsg
from actors.budget.reconcile import RowState
from actors.budget.reconciliation import RECONCILE_EVERY_S, RECONCILE_GRACE_S
from actors.core import Mailbox, open_mailbox
from actors.policy.pricing import PriceTable
from config.model import BudgetConfig, PricingConfig

SP = ZoneInfo("America/Sao_Paulo")


class MemoryJournal:
    """The budget journal as a list: what was booked, in order."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    async def load_entries(self, since: float) -> list[dict[str, Any]]:
        return [e for e in self.entries if float(e["at"]) >= since]

    async def save_entries(self, entries: Sequence[dict[str, Any]]) -> None:
        await trio.sleep(0)  # a real journal yields: let other reservations interleave
        self.entries.extend(entries)

    def ops(self, ref: str) -> list[str]:
        return [e["op"] for e in self.entries if e["id"] == ref]


@dataclass(frozen=True)
class Pricing:
    """A status webhook's ``pricing`` object, as the parser hands it on."""

    billable: bool | None = True
    pricing_model: str | None = "PMP"
    category: str | None = "marketing"
    type: str | None = "regular"


class Outbox:
    """Outbox rows by id, with the database's idea of their age (``idle_s``)."""

    def __init__(self) -> None:
        self.rows: dict[int, RowState] = {}
        self.reads = 0
        self.during_read: Callable[[], Awaitable[None]] | None = None
        self.fail_next = False

    def set(self, oid: int, state: str, idle_s: float = 1000.0) -> None:
        self.rows[oid] = RowState(state, idle_s)

    async def outbox_states(self, outbox_ids: Sequence[int]) -> dict[int, RowState]:
        self.reads += 1
        if self.fail_next:
            self.fail_next = False
            raise OSError("connection lost")
        snapshot = {i: self.rows[i] for i in outbox_ids if i in self.rows}
        if self.during_read is not None:  # what happens while the query runs
            hook, self.during_read = self.during_read, None
            await hook()
        await trio.sleep(0)
        return snapshot


class SharedMemory:
    """One journal several daemons share, with the advisory lock and the outbox; each
    daemon gets a :class:`SharedView` (its high-water mark is the coordinator's)."""

    def __init__(self, outbox: Outbox) -> None:
        self.entries: list[dict[str, Any]] = []
        self.lock = trio.Lock()
        self.outbox = outbox

    def ops(self, ref: str) -> list[str]:
        return [e["op"] for e in self.entries if e["id"] == ref]


class SharedView(MemoryJournal):
    def __init__(self, shared: SharedMemory) -> None:
        super().__init__()
        self.shared = shared

    async def load_marked(self, since: float) -> tuple[list[dict[str, Any]], int]:
        entries = self.shared.entries
        return [e for e in entries if float(e["at"]) >= since], len(entries)

    async def serialized(
        self, after_id: int, decide: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
    ) -> int:
        async with self.shared.lock:
            await trio.sleep(0)
            self.shared.entries.extend(decide(list(self.shared.entries[after_id:])))
            return len(self.shared.entries)

    async def reconciled(
        self,
        after_id: int,
        outbox_ids: Sequence[int],
        decide: Callable[[list[dict[str, Any]], dict[int, RowState]], list[dict[str, Any]]],
    ) -> int:
        async with self.shared.lock:
            rows = await self.shared.outbox.outbox_states(outbox_ids)  # under the lock
            self.shared.entries.extend(decide(list(self.shared.entries[after_id:]), rows))
            return len(self.shared.entries)


class RecallJournal(MemoryJournal):
    """A journal that keeps checkpoints and recalls settled messages by outbox id, as
    the store's does (positions are list positions, from 1); ``recalls`` counts the
    lookups."""

    def __init__(self) -> None:
        super().__init__()
        self.checkpoints: dict[int, dict[str, Any]] = {}
        self.recalls: list[list[int]] = []

    async def save_entries(self, entries: Sequence[dict[str, Any]]) -> int | None:
        await super().save_entries(entries)
        return len(self.entries) if entries else None

    async def save_checkpoint(self, position: int, data: dict[str, Any]) -> None:
        self.checkpoints[position] = data

    async def load_marked(self, since: float) -> tuple[list[dict[str, Any]], int]:
        return await self.load_entries(since), len(self.entries)

    async def latest_checkpoint(self) -> tuple[int, dict[str, Any]] | None:
        if not self.checkpoints:
            return None
        position = max(self.checkpoints)
        return position, self.checkpoints[position]

    async def entries_after(self, position: int) -> tuple[list[dict[str, Any]], int]:
        return self.entries[position:], len(self.entries)

    async def settled(
        self, outbox_ids: Sequence[int], upto: int | None = None
    ) -> list[dict[str, Any]]:
        self.recalls.append(list(outbox_ids))
        seen = self.entries[: len(self.entries) if upto is None else upto]
        out = []
        for oid in outbox_ids:
            mine = [e for e in seen if e["id"] == f"o:{oid}"]
            if mine and mine[-1]["op"] == "settle":
                last = mine[-1]
                reserved = [e["at"] for e in mine if e["op"] == "reserve"]
                booked = last.get("booked_at") or (reserved or [last["at"]])[-1]
                out.append({**last, "booked_at": booked})
        return out

    async def last_message(self, upto: int | None = None) -> int:
        seen = self.entries[: len(self.entries) if upto is None else upto]
        ids = [int(e["id"][2:]) for e in seen if e["id"].startswith("o:")]
        return max(ids, default=0)


async def start_budget(
    nursery: trio.Nursery,
    journal: MemoryJournal,
    outbox: Outbox | None,
    *,
    now: Callable[[], float],
    cfg: BudgetConfig | None = None,
    shared: bool = False,
    every_s: float = RECONCILE_EVERY_S,
    grace_s: float = RECONCILE_GRACE_S,
    catch_up_s: float = 1.0,
) -> tuple[BudgetCoordinator, BudgetClient, Mailbox[BudgetMsg]]:
    """A budget coordinator on these fakes, periods in São Paulo, started in
    ``nursery``; ``shared``: the journal is a :class:`SharedView` (caps shared with
    other daemons)."""
    box: Mailbox[BudgetMsg] = open_mailbox("budget")
    actor = BudgetCoordinator(
        ledger=lambda: Ledger.from_config(cfg or BudgetConfig(), SP),
        prices=PriceTable.from_config(PricingConfig()),
        journal=journal,
        inbox=box.inbox,
        now=now,
        outbox=outbox,
        shared=journal if shared else None,  # type: ignore[arg-type]
        catch_up_s=catch_up_s,
        reconcile_every_s=every_s,
        reconcile_grace_s=grace_s,
    )
    await nursery.start(actor.run)
    return actor, BudgetClient(box.address), box
