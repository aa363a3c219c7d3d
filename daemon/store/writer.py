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
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import outcome
import trio

from daemon.store.connection import check_identifier
from daemon.store.errors import StoreError

if TYPE_CHECKING:
    from daemon.store.pool import Store

__all__ = ["BatchWriteError", "BatchWriter", "GroupCommit", "WriterStats"]

_log = logging.getLogger(__name__)

_Key = tuple[str, tuple[str, ...]]
Op = TypeVar("Op")
R = TypeVar("R")


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


class _Slot(Generic[Op, R]):
    """One caller's operations: they go into one batch together (their keys differ)."""

    __slots__ = ("keys", "ops", "results", "taken", "wake")

    def __init__(self, ops: list[Op], keys: set[Hashable]) -> None:
        self.ops = ops
        self.keys = keys
        """The operations' keys, None ones left out."""
        self.taken = False
        """In a batch being written (it may commit whatever its caller does now)."""
        self.results: list[outcome.Outcome[R]] | None = None
        self.wake = trio.Event()
        """Set when ``results`` are in, or (``results`` still None) when this caller leads."""


class GroupCommit(Generic[Op, R]):
    """Group commit without a task of its own: callers that arrive while a batch is
    being written share the next one.

    Why no flusher task and no timer: the first caller finds nobody writing and writes
    at once (alone, no added latency); everyone arriving meanwhile queues, and when the
    write is done the oldest of them takes the next batch (all that queued). Under load
    batches grow by themselves, at rest nothing waits. A batch is written under a
    cancel shield, because it carries other callers' operations.

    ``write`` gets the operations in arrival order and returns one result (or the
    exception to raise) per operation; if it raises, every caller of the batch gets
    the error. Operations with the same ``key`` never share a batch (the later one
    waits for the next), so one statement never touches one row twice; a ``None`` key
    conflicts with nothing. A caller with many operations (:meth:`submit_many`) waits
    once for all of them: per operation, a wait is a trio scheduling round.
    """

    def __init__(
        self,
        write: Callable[[list[Op]], Awaitable[Sequence[R | BaseException]]],
        *,
        key: Callable[[Op], Hashable],
        max_batch: int = 1000,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._write = write
        self._key = key
        self._max = max_batch
        self._pending: deque[_Slot[Op, R]] = deque()
        self._busy = False
        self.batches = 0
        """Batches written (for tests and metrics)."""
        self.ops = 0

    async def submit(self, op: Op) -> R:
        """Write ``op`` with whatever else is waiting; its result once committed.

        If the caller is cancelled while its operation is being written, the operation
        may still be committed (as with a single statement cancelled mid-flight).
        """
        key = self._key(op)
        (result,) = await self._submit([op], set() if key is None else {key})
        return result.unwrap()

    async def submit_many(self, ops: Sequence[Op]) -> list[outcome.Outcome[R]]:
        """Write ``ops``, in order, in one batch when their keys differ (else in as many
        as their repeated keys need); one outcome per operation, once all are committed.
        """
        results: list[outcome.Outcome[R]] = []
        part: list[Op] = []
        keys: set[Hashable] = set()
        for op in ops:
            key = self._key(op)
            if key is not None and key in keys:
                results += await self._submit(part, keys)
                part, keys = [], set()
            part.append(op)
            if key is not None:
                keys.add(key)
        if part:
            results += await self._submit(part, keys)
        return results

    async def _submit(self, ops: list[Op], keys: set[Hashable]) -> list[outcome.Outcome[R]]:
        slot: _Slot[Op, R] = _Slot(ops, keys)
        self._pending.append(slot)
        if self._busy:
            try:
                await slot.wake.wait()
            except BaseException:
                if not slot.taken:  # not written: withdraw (and pass on the lead)
                    self._pending.remove(slot)
                    if slot.wake.is_set():
                        self._hand_off()
                raise
            if slot.results is not None:
                return slot.results
        else:
            self._busy = True
            # Let the callers woken in this same scheduling round join the batch.
            await trio.lowlevel.cancel_shielded_checkpoint()
        try:
            batch = self._take()
            with trio.CancelScope(shield=True):
                await self._run(batch)
        finally:
            self._hand_off()
        assert slot.results is not None
        return slot.results

    def _take(self) -> list[_Slot[Op, R]]:
        """The next batch: pending slots in order, each whole, skipping one that holds a
        key already taken or (unless it comes first) would overfill the batch."""
        batch: list[_Slot[Op, R]] = []
        keys: set[Hashable] = set()
        kept: deque[_Slot[Op, R]] = deque()
        count = 0
        while self._pending and count < self._max:
            slot = self._pending.popleft()
            if (batch and count + len(slot.ops) > self._max) or not keys.isdisjoint(slot.keys):
                kept.append(slot)
                continue
            keys.update(slot.keys)
            slot.taken = True
            batch.append(slot)
            count += len(slot.ops)
        kept.extend(self._pending)
        self._pending = kept
        return batch

    def _hand_off(self) -> None:
        if self._pending:
            self._pending[0].wake.set()
        else:
            self._busy = False

    async def _run(self, batch: list[_Slot[Op, R]]) -> None:
        ops = [op for s in batch for op in s.ops]
        try:
            results = await self._write(ops)
            if len(results) != len(ops):
                raise StoreError(f"group commit: {len(results)} results for {len(ops)}")
        except Exception as exc:
            for s in batch:
                error = BatchWriteError(f"group commit failed: {exc}")
                error.__cause__ = exc
                s.results = [outcome.Error(error) for _ in s.ops]  # an outcome is single-use
        else:
            self.batches += 1
            self.ops += len(ops)
            n = 0
            for s in batch:
                s.results = [
                    outcome.Error(r) if isinstance(r, BaseException) else outcome.Value(r)
                    for r in results[n : n + len(s.ops)]
                ]
                n += len(s.ops)
        finally:
            for s in batch:
                if s.results is None:  # a BaseException (KeyboardInterrupt) went through
                    s.results = [
                        outcome.Error(StoreError("group commit interrupted")) for _ in s.ops
                    ]
                s.wake.set()
