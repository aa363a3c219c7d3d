"""In-memory stand-ins for the ports actors depend on; they also record calls."""

from __future__ import annotations

import datetime as dt

from actors.ports import ChipRecord, WabaRecord


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

    async def load(self, waba_id: str) -> WabaRecord | None:
        return self.rows.get(waba_id)

    async def save(self, record: WabaRecord) -> None:
        self.rows[record.waba_id] = record


class FixedClock:
    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now
