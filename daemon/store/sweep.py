"""``sweep``: run a pruning statement batch after batch, and say whether it finished.

Why one loop: every pruning (:mod:`daemon.store.retention`, :mod:`daemon.store.history`)
deletes a bounded batch per statement, adds up what the batch reports, stops when the
batch says nothing expired is left, and otherwise asks ``keep_going`` before the next
one, so a run has a bounded duration. Written once, a pruning cannot forget the
question or miscount a batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.store.connection import Row

__all__ = ["always", "sweep"]


def always() -> bool:
    """``keep_going`` for a pruning with no time budget."""
    return True


async def sweep(
    batch: Callable[[Row | None], Awaitable[Row | None]],
    *,
    add: Sequence[str],
    last: Callable[[Row], bool],
    keep_going: Callable[[], bool] = always,
) -> tuple[dict[str, int], bool]:
    """Run ``batch(previous row)`` (None the first time) while ``keep_going()``, summing
    the columns ``add`` of each row, until ``last(row)``. Returns the sums and whether
    the sweep finished (False: ``keep_going`` stopped it, call again later)."""
    sums = dict.fromkeys(add, 0)
    previous: Row | None = None
    while keep_going():
        row = await batch(previous)
        assert row is not None, "a pruning statement returns one row"
        for column in add:
            sums[column] += row[column]
        if last(row):
            return sums, True
        previous = row
    return sums, False
