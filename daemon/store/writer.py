"""``BatchWriter``: group commit for hot appends (journal rows, inbox bodies, events).

Why: one COMMIT per row is one WAL flush and one bridge hop per row; many trio tasks
appending at once can share one transaction instead. Every ``append`` still returns
only after its row is committed, so callers keep the durability they would have with
a private INSERT; they just wait up to ``flush_ms`` for company.

One flusher task takes the current batch when it is ``batch_rows`` full or its oldest
row has waited ``flush_ms``, and writes it in one transaction with one binary COPY per
(table, columns). While a batch is being written the next one fills. If a batch fails
because of a row (constraint violation, bad value), the batch is retried once with a
savepoint per row, so only the offending appends fail and their neighbours commit; a
failure that is not about rows (connection lost) fails every append of the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from daemon.store.connection import check_identifier
from daemon.store.errors import StoreError

if TYPE_CHECKING:
    from daemon.store.pool import Store

__all__ = ["BatchWriteError", "BatchWriter", "WriterStats"]

_log = logging.getLogger(__name__)

_Key = tuple[str, tuple[str, ...]]


class BatchWriteError(StoreError):
    """An appended row was not written; ``__cause__`` is the database error."""


@dataclass(frozen=True, slots=True)
class WriterStats:
    rows: int
    """Rows committed."""
    transactions: int
    """Transactions committed by the flusher (one per batch, plus isolation retries)."""
    failed_rows: int
    """Appends that raised ``BatchWriteError``."""


class _Batch:
    __slots__ = ("count", "done", "errors", "failure", "first_at", "full", "groups")

    def __init__(self) -> None:
        self.groups: dict[_Key, list[tuple[object, ...]]] = {}
        self.count = 0
        self.first_at = 0.0
        self.full = trio.Event()
        self.done = trio.Event()
        self.failure: BaseException | None = None
        self.errors: dict[tuple[_Key, int], BaseException] = {}

    def error_for(self, slot: tuple[_Key, int]) -> BaseException | None:
        return self.failure if self.failure is not None else self.errors.get(slot)


async def _write_groups(
    pool: Any, groups: list[tuple[str, list[str], list[tuple[object, ...]]]]
) -> None:
    async with pool.acquire() as con, con.transaction():
        for table, columns, rows in groups:
            await con.copy_records_to_table(table, records=rows, columns=columns)


async def _write_isolated(
    pool: Any, rows: list[tuple[str, tuple[str, ...], tuple[object, ...]]]
) -> list[BaseException | None]:
    """One transaction, one savepoint per row: bad rows fail alone."""
    results: list[BaseException | None] = []
    async with pool.acquire() as con, con.transaction():
        for table, columns, row in rows:
            params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({params})"
            try:
                async with con.transaction():
                    await con.execute(sql, *row)
            except Exception as exc:
                results.append(exc)
            else:
                results.append(None)
    return results


class BatchWriter:
    """Group-commit appender; started by ``open_store`` (``run`` in its nursery)."""

    def __init__(self, store: Store, *, batch_rows: int = 500, flush_ms: float = 5.0) -> None:
        if batch_rows < 1 or flush_ms <= 0:
            raise ValueError("batch_rows must be >= 1 and flush_ms > 0")
        self._store = store
        self._batch_rows = batch_rows
        self._flush_s = flush_ms / 1000.0
        self._current = _Batch()
        self._inflight: _Batch | None = None
        self._wake = trio.Event()
        self._swapped = trio.Event()
        self._checked: set[_Key] = set()
        self._running = False
        self._closed = False
        self._rows = 0
        self._transactions = 0
        self._failed = 0
        self.on_flush: Callable[[int, float], None] | None = None
        """Told (rows, seconds) after each batch commits: the metrics' flush latency."""

    @property
    def stats(self) -> WriterStats:
        return WriterStats(self._rows, self._transactions, self._failed)

    async def append(self, table: str, columns: Sequence[str], row: Sequence[object]) -> None:
        """Append one row and return once it is committed.

        Raises ``BatchWriteError`` if the row could not be written. If the caller is
        cancelled while waiting, the row may still be committed (it left with the batch).
        """
        key: _Key = (table, tuple(columns))
        if key not in self._checked:
            check_identifier(table)
            for column in key[1]:
                check_identifier(column)
            self._checked.add(key)
        if len(row) != len(key[1]):
            raise ValueError(f"{table}: {len(key[1])} columns but {len(row)} values")
        while True:
            if self._closed or not self._running:
                raise StoreError("batch writer is not running")
            if self._current.count < self._batch_rows:
                break
            await self._swapped.wait()  # backpressure: the flusher is behind
        batch = self._current
        group = batch.groups.setdefault(key, [])
        slot = (key, len(group))
        group.append(tuple(row))
        batch.count += 1
        if batch.count == 1:
            batch.first_at = trio.current_time()
            self._wake.set()
        if batch.count >= self._batch_rows:
            batch.full.set()
        await batch.done.wait()
        error = batch.error_for(slot)
        if error is not None:
            raise BatchWriteError(f"batched write to {table} failed: {error}") from error

    async def flush(self) -> None:
        """Write what is buffered now and wait until it and any batch in flight are done.

        Errors go to the appenders, not to the caller of ``flush``.
        """
        batch = self._current
        if batch.count:
            batch.full.set()
            await batch.done.wait()
        elif self._inflight is not None:
            await self._inflight.done.wait()

    async def aclose(self) -> None:
        """Refuse new appends, drain what is buffered, let the flusher return."""
        self._closed = True
        self._wake.set()
        self._swapped.set()
        if self._running:
            await self.flush()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The flusher loop; returns after ``aclose`` once everything is written."""
        self._running = True
        task_status.started()
        try:
            while True:
                batch = self._current
                if batch.count == 0:
                    if self._closed:
                        return
                    await self._wake.wait()
                    self._wake = trio.Event()
                    continue
                if not self._closed:
                    with trio.move_on_at(batch.first_at + self._flush_s):
                        await batch.full.wait()
                self._current = _Batch()
                swapped, self._swapped = self._swapped, trio.Event()
                swapped.set()
                self._inflight = batch
                await self._write(batch)
                self._inflight = None
                batch.done.set()
        finally:
            self._running = False
            self._closed = True
            self._swapped.set()
            for pending in (self._inflight, self._current):
                if pending is not None and not pending.done.is_set():
                    pending.failure = StoreError("batch writer stopped before the row was written")
                    pending.done.set()

    async def _write(self, batch: _Batch) -> None:
        started = trio.current_time()
        groups = [(table, list(cols), rows) for (table, cols), rows in batch.groups.items()]
        try:
            await self._store._call(_write_groups, groups)
        except Exception as exc:
            if batch.count == 1:
                batch.failure = exc
                self._failed += 1
                return
            _log.warning("batch of %d rows failed (%s); retrying row by row", batch.count, exc)
            await self._write_isolated(batch)
            return
        self._transactions += 1
        self._rows += batch.count
        if self.on_flush is not None:
            self.on_flush(batch.count, trio.current_time() - started)

    async def _write_isolated(self, batch: _Batch) -> None:
        slots = [(key, i) for key, rows in batch.groups.items() for i in range(len(rows))]
        flat = [(key[0], key[1], batch.groups[key][i]) for key, i in slots]
        try:
            results = await self._store._call(_write_isolated, flat)
        except Exception as exc:
            batch.failure = exc
            self._failed += batch.count
            return
        self._transactions += 1
        for slot, error in zip(slots, results, strict=True):
            if error is None:
                self._rows += 1
            else:
                batch.errors[slot] = error
                self._failed += 1
