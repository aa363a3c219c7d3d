"""In-memory stand-ins for the budget coordinator's storage, shared by its tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import trio


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
