"""In-memory stand-ins for the ports actors depend on; they also record calls."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import trio

from actors.ports import (
    Booking,
    ChipRecord,
    OutboxRow,
    PortOutcome,
    RecentSend,
    SendAccepted,
    WabaRecord,
)


class FakeChipRepo:
    def __init__(self) -> None:
        self.rows: dict[str, ChipRecord] = {}
        self.saves = 0

    async def load(self, phone_number_id: str) -> ChipRecord | None:
        return self.rows.get(phone_number_id)

    async def save(self, record: ChipRecord) -> None:
        self.saves += 1
        self.rows[record.phone_number_id] = record


class FakeWabaRepo:
    def __init__(self) -> None:
        self.rows: dict[str, WabaRecord] = {}
        self.effects: dict[str, list[tuple[float, dict[str, Any]]]] = {}

    async def load(self, waba_id: str) -> WabaRecord | None:
        return self.rows.get(waba_id)

    async def save(self, record: WabaRecord) -> None:
        self.rows[record.waba_id] = record

    async def load_effects(self, waba_id: str) -> list[tuple[float, dict[str, Any]]]:
        return list(self.effects.get(waba_id, []))

    async def save_effect(self, waba_id: str, at: float, effect: dict[str, Any]) -> None:
        self.effects.setdefault(waba_id, []).append((at, effect))


class FakeJournal:
    """The chip journal in memory: what a restart would read back."""

    def __init__(self) -> None:
        self.windows: dict[tuple[str, str, str], float] = {}
        self.aliases: dict[str, str] = {}
        self.transitions: dict[str, list[dict[str, Any]]] = {}
        self.outbox: dict[int, dict[str, Any]] = {}

    async def load_windows(self, chip: str) -> list[tuple[str, str, float]]:
        return [(k, kind, exp) for (c, k, kind), exp in self.windows.items() if c == chip]

    async def save_windows(
        self, chip: str, changes: Sequence[tuple[str, str, float | None]]
    ) -> None:
        for key, kind, exp in changes:
            if exp is None:
                self.windows.pop((chip, key, kind), None)
            else:
                self.windows[(chip, key, kind)] = max(exp, self.windows.get((chip, key, kind), 0))

    async def load_aliases(self, chip: str) -> list[tuple[str, str]]:
        return list(self.aliases.items())

    async def save_aliases(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.aliases.update(pairs)

    async def load_transitions(self, chip: str) -> list[dict[str, Any]]:
        return list(self.transitions.get(chip, []))

    async def save_transitions(self, chip: str, transitions: Sequence[dict[str, Any]]) -> None:
        self.transitions.setdefault(chip, []).extend(transitions)

    async def recent_sends(self, chip: str, since: float) -> list[RecentSend]:
        return []

    async def settle_abandoned(self, chip: str) -> int:
        settled = 0
        for row in self.outbox.values():
            if row["state"] in ("queued", "sending"):
                row["state"] = "in_doubt" if row["state"] == "sending" else "cancelled"
                settled += 1
        return settled

    async def outbox_new(self, rows: Sequence[OutboxRow]) -> list[int | None]:
        return [self._new(dataclasses.asdict(r)) for r in rows]

    def _new(self, row: dict[str, Any]) -> int | None:
        if row.get("campaign_id") is not None:
            for oid, old in self.outbox.items():
                same = (old.get("campaign_id"), old.get("recipient_id"))
                if same == (row["campaign_id"], row["recipient_id"]):
                    if old["state"] != "cancelled":
                        return None
                    self.outbox[oid] = {**row, "state": "queued"}
                    return oid
        outbox_id = len(self.outbox) + 1
        self.outbox[outbox_id] = {**row, "state": "queued"}
        return outbox_id

    async def outbox_sending(self, outbox_ids: Sequence[int]) -> None:
        for outbox_id in outbox_ids:
            await self.outbox_set(outbox_id, "sending")

    async def outbox_set(
        self, outbox_id: int, state: str, *, wamid: str | None = None, error: Any = None
    ) -> None:
        self.outbox[outbox_id].update(state=state, wamid=wamid, error=error)


class FakeGraph:
    """Answers sends from a script of outcomes (default: accepted), records payloads."""

    def __init__(self, outcomes: Sequence[PortOutcome] = ()) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[dict[str, Any]] = []
        self.sent_at: list[float] = []
        """When (trio time) each send was POSTed."""
        self.phone: dict[str, object] = {"quality_rating": "GREEN", "status": "CONNECTED"}

    async def send(
        self,
        phone_number_id: str,
        payload: Mapping[str, Any],
        callback_data: str,
        endpoint: str = "messages",
    ) -> PortOutcome:
        self.sent.append(
            {**payload, "biz_opaque_callback_data": callback_data, "_endpoint": endpoint}
        )
        self.sent_at.append(trio.current_time())
        if self.outcomes:
            return self.outcomes.pop(0)
        return SendAccepted(f"wamid.{len(self.sent)}", str(payload["to"]))

    async def phone_number(self, phone_number_id: str) -> Mapping[str, object]:
        return dict(self.phone)


class BookingBudget:
    """A budget that books everything and records what each booking was estimated at."""

    def __init__(self) -> None:
        self.amounts: list[Decimal] = []

    async def reserve(self, bookings: Sequence[Booking]) -> list[str | None]:
        self.amounts += [b.amount for b in bookings]
        return [None] * len(bookings)

    async def release(self, ref: str) -> None:
        raise AssertionError("nothing to release")


class FixedClock:
    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now
