"""The event bus: what happens in the daemon, fanned out to console subscribers.

Why bounded and non-blocking: a console on a slow terminal must never slow a chip. Each
subscriber has its own bounded buffer; ``publish`` never waits, and a subscriber whose
buffer is full is cut off and told to resync from a snapshot.

Why a history: an operator who opens the console in the morning wants to see what
happened overnight (an actor that crashed, a budget alert, a warning, a reload), not an
empty log. The bus keeps the last ``history`` happenings, every kind but the state
streams (:data:`STATE_KINDS`, whose latest value the snapshot already carries), for the
``events.recent`` call. In memory only: the journal (systemd) keeps the logs for longer.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import trio

__all__ = ["STATE_KINDS", "Bus", "BusEvent", "BusLogHandler", "Subscription"]

STATE_KINDS = frozenset({"chip", "sends", "campaign.progress"})
"""Kinds that carry a state (a chip's, the send rates, a campaign's figures): a snapshot
has their latest value, so the history leaves them out."""


@dataclass(frozen=True, slots=True)
class BusEvent:
    kind: str
    data: dict[str, Any]
    at: float = field(default_factory=time.time)


class Subscription:
    def __init__(self, bus: Bus, capacity: int) -> None:
        self._bus = bus
        self.send, self.receive = trio.open_memory_channel[BusEvent](capacity)
        self.lagged = False

    def close(self) -> None:
        self._bus._subscribers.discard(self)
        self.send.close()


class Bus:
    def __init__(self, capacity: int = 2048, history: int = 500) -> None:
        self._capacity = capacity
        self._subscribers: set[Subscription] = set()
        self._history: deque[BusEvent] = deque(maxlen=history)
        self.published = 0
        self.dropped_subscribers = 0

    def recent(self, after: float = 0.0) -> list[BusEvent]:
        """The happenings kept (oldest first) stamped after ``after``."""
        return [e for e in self._history if e.at > after]

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self._capacity)
        self._subscribers.add(sub)
        return sub

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Never blocks: a subscriber that cannot take the event is cut off."""
        self.published += 1
        state = kind in STATE_KINDS
        if state and not self._subscribers:
            return
        event = BusEvent(kind, data)
        if not state:
            self._history.append(event)
        for sub in list(self._subscribers):
            try:
                sub.send.send_nowait(event)
            except trio.WouldBlock:
                sub.lagged = True
                self.dropped_subscribers += 1
                sub.close()
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                self._subscribers.discard(sub)


class BusLogHandler(logging.Handler):
    """Warnings and errors to the bus, from any thread (the storage thread logs too)."""

    def __init__(self, bus: Bus, token: trio.lowlevel.TrioToken) -> None:
        super().__init__(logging.WARNING)
        self._bus = bus
        self._token = token

    def emit(self, record: logging.LogRecord) -> None:
        data = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        try:
            trio.lowlevel.current_task()
        except RuntimeError:  # another thread: hop into trio
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._bus.publish, "log", data)
        else:
            self._bus.publish("log", data)
