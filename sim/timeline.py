"""Things that happen later in the simulated world, and the simulator's clock.

Why: a message's fate (sent, delivered, read, a reply), a template's review and a
triggered event all happen after a delay. Request handlers schedule them as plain
callables on one :class:`Timeline`, which runs them in order on one task, so handlers
never spawn tasks and a crash in one action is counted instead of killing the server.

:class:`SimClock` is the wall clock the world's rules see (epoch seconds), plus an
offset that ``/_sim/clock`` can move forward to expire windows without waiting a day.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import Counter
from collections.abc import Callable

import trio
import trio.lowlevel

__all__ = ["SimClock", "Timeline"]

log = logging.getLogger("metad.sim")


class SimClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class Timeline:
    """Scheduled actions; heap entries are plain tuples (due, seq, action): fast to compare."""

    def __init__(self, counters: Counter[str]) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._wake = trio.Event()
        self.counters = counters

    def __len__(self) -> int:
        return len(self._heap)

    def after(self, delay_s: float, action: Callable[[], None]) -> None:
        """Run ``action`` once ``delay_s`` seconds have passed (on the trio clock)."""
        self.at(trio.current_time() + delay_s, action)

    def at(self, due: float, action: Callable[[], None]) -> None:
        """Run ``action`` at trio time ``due`` (callers scheduling several reuse one now)."""
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, action))
        if self._heap[0][1] == self._seq:  # the new item is the earliest: re-arm
            self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            now = trio.current_time()
            ran = 0
            while self._heap and self._heap[0][0] <= now:
                _, _, action = heapq.heappop(self._heap)
                try:
                    action()
                except Exception:
                    self.counters["timeline_errors"] += 1
                    log.exception("simulated event failed")
                ran += 1
                if ran % 512 == 0:
                    await trio.lowlevel.checkpoint()  # let requests in during a burst
            self._wake = trio.Event()
            if self._heap:
                with trio.move_on_at(self._heap[0][0]):
                    await self._wake.wait()
            else:
                await self._wake.wait()
