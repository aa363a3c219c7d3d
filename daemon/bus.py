"""The event bus: what happens in the daemon, fanned out to console subscribers.

Why bounded and non-blocking: a console on a slow terminal must never slow a chip. Each
subscriber has its own bounded buffer; ``publish`` never waits, and a subscriber whose
buffer is full is cut off and told to resync from a snapshot.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import trio

__all__ = ["Bus", "BusEvent", "BusLogHandler", "Subscription"]


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
    def __init__(self, capacity: int = 2048) -> None:
        self._capacity = capacity
        self._subscribers: set[Subscription] = set()
        self.published = 0
        self.dropped_subscribers = 0

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
        if not self._subscribers:
            return
        event = BusEvent(kind, data)
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
