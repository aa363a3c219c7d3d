"""What the control client reported and the console has not applied yet, in order.

Why a buffer between the socket and the screen: at thousands of events a second, one
Textual message and one table write per event keep the console's loop so busy that it
renders a few frames a second, each late. The client's callbacks only append here; the
app applies everything gathered once per frame (:data:`FRAME_S`), writing each changed
row once however often it changed meanwhile. Order is kept: a snapshot supersedes the
events before it, and connection changes fall where they happened. A connection change
that only says how the link is now (connecting, retrying in n s) is replaced by the next
one while both wait: a daemon that stays down is retried again and again, and the screen
shows only the latest anyway.

The fell-behind guard: should events gather faster than the console applies them (past
``max_events``), they are dropped and the console resyncs from a fresh snapshot, as the
daemon would make it do had its own buffer for this console filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui.client import ConnectionStatus, ControlEvent, LinkState
from tui.model import Chip
from tui.state import LogEntry

__all__ = ["FRAME_S", "Changes", "Inbox", "InboxItem", "SnapshotArrived", "is_logged"]

FRAME_S = 0.05
"""Events are applied at most this often: 20 frames a second, 25 ms of added latency on
average under a steady stream (none for the first event after a quiet spell), which the
event-to-screen budget (p99 <= 250 ms) affords."""


@dataclass(frozen=True, slots=True)
class SnapshotArrived:
    doc: dict[str, Any]


InboxItem = ConnectionStatus | SnapshotArrived | ControlEvent


def is_logged(status: ConnectionStatus) -> bool:
    """Whether the console logs this connection change: a connection made, or the first
    failure of an outage (after a session the client counts attempts from 0 again)."""
    if status.state is LinkState.CONNECTED:
        return True
    return status.state is LinkState.DISCONNECTED and status.attempt <= 1


class Inbox:
    def __init__(self, max_events: int = 20_000) -> None:
        self.max_events = max_events
        self._items: list[InboxItem] = []
        self._events = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: InboxItem) -> bool:
        """Append; False once more events wait than the bound (the caller resyncs)."""
        if isinstance(item, ConnectionStatus) and self._replaces_last(item):
            self._items[-1] = item
            return True
        self._items.append(item)
        if isinstance(item, ControlEvent):
            self._events += 1
            return self._events <= self.max_events
        return True

    def _replaces_last(self, status: ConnectionStatus) -> bool:
        """The last item waiting is a connection change the console would only show, not
        log: the newer one supersedes it."""
        last = self._items[-1] if self._items else None
        return isinstance(last, ConnectionStatus) and not is_logged(last)

    def take(self) -> list[InboxItem]:
        items, self._items, self._events = self._items, [], 0
        return items

    def drop_events(self) -> int:
        """Forget the waiting events (a resync replaces them); how many there were."""
        dropped = self._events
        self._items = [i for i in self._items if not isinstance(i, ControlEvent)]
        self._events = 0
        return dropped


@dataclass(slots=True)
class Changes:
    """What one application of the inbox changed, told to every screen once."""

    chips: dict[str, tuple[Chip | None, Chip]] = field(default_factory=dict)
    """Per chip: (the version before this batch or None, the newest)."""
    entries: list[LogEntry] = field(default_factory=list)
    chrome: bool = False
    campaigns: bool = False
    budget: bool = False

    def chip(self, old: Chip | None, new: Chip) -> None:
        first = self.chips.get(new.phone_number_id)
        self.chips[new.phone_number_id] = (old if first is None else first[0], new)

    def __bool__(self) -> bool:
        return bool(self.chips or self.entries or self.chrome or self.campaigns or self.budget)
