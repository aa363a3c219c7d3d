"""Run asyncpg (asyncio-only) from trio: one asyncio loop in one dedicated thread.

Why this design (measured in docs/stack-notes.md §2): a trio-side future is ~2× faster
than trio-asyncio and does not monkeypatch asyncio globally; a thread per call
(``to_thread.run_sync(future.result)``) is slower still and cannot be cancelled.

A call queues the coroutine for the loop and parks the trio task with
``wait_task_rescheduled``; the asyncio Task's done callback queues the result for trio.
On trio cancellation the asyncio task is cancelled and the abort reports
``Abort.FAILED``, so the trio task waits until asyncpg has really finished (it cancels
the query server-side and keeps the connection usable) and only then raises
``Cancelled``. Nothing ever blocks the loop thread.

Why queues, and one wake-up per batch: each ``call_soon_threadsafe`` and each
``TrioToken.run_sync_soon`` writes a byte to the other thread's wake-up socket (a
syscall, and a GIL hand-over). Under load, with hundreds of calls a second, those
wake-ups were ~15 % of the daemon's CPU. Calls (and results) that queue while the other
side has not yet run its drain ride along with it: one wake-up per batch, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, TypeVarTuple

import outcome
import trio

from daemon.store.errors import StoreError

__all__ = ["AsyncioThread"]

_log = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class _Call:
    """State shared by the trio side and the loop side of one call."""

    __slots__ = ("aio_task", "raise_cancel")

    def __init__(self) -> None:
        self.aio_task: asyncio.Task[Any] | None = None
        self.raise_cancel: Callable[[], None] | None = None


class AsyncioThread:
    """An asyncio event loop running in its own daemon thread, callable from trio.

    ``start()`` and ``stop()`` are blocking but short (thread start / loop shutdown);
    call them from trio through ``trio.to_thread.run_sync``. Objects created on the loop
    (asyncpg pools, connections) belong to it: only touch them inside ``run``.
    """

    def __init__(self, name: str = "metad-asyncpg") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Orders "is the loop still accepting calls?" against scheduling, so no call
        # can be queued behind the loop's stop and wait forever.
        self._lock = threading.Lock()
        self._closed = False
        self._to_loop: list[Callable[[], None]] = []
        """Loop-side steps queued by trio (guarded by ``_lock``); a drain is scheduled
        on the loop whenever the list is not empty."""
        self._results_lock = threading.Lock()
        self._to_trio: dict[trio.lowlevel.TrioToken, list[tuple[Any, Any]]] = {}
        """Per trio run: (task, result) pairs to reschedule; a drain is scheduled in
        that run whenever its list exists."""

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._closed

    def start(self) -> None:
        """Start the thread and return once its loop runs."""
        if self._thread is not None:
            raise RuntimeError("AsyncioThread already started")
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), name=self._name)
        self._thread.daemon = True
        self._thread.start()
        ready.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Refuse new calls, cancel what still runs on the loop, close it, join the thread.

        Why cancel: a call still running at shutdown (a bug, or a store closed under
        load) must not keep the process alive; its trio caller gets a ``StoreError``.
        """
        with self._lock:
            if self._closed or self._loop is None:
                self._closed = True
                return
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                _log.warning("asyncio bridge thread did not stop within %.1f s", timeout)

    def _post(self, step: Callable[[], None]) -> None:
        """Queue ``step`` for the loop thread (caller holds ``_lock``, loop open)."""
        assert self._loop is not None
        self._to_loop.append(step)
        if len(self._to_loop) == 1:
            try:
                self._loop.call_soon_threadsafe(self._drain_loop_side)
            except BaseException:  # the loop is closed: nothing queued will run
                self._to_loop.clear()
                raise

    def _drain_loop_side(self) -> None:  # loop thread
        with self._lock:
            steps, self._to_loop = self._to_loop, []
        for step in steps:
            step()

    def _deliver(self, token: trio.lowlevel.TrioToken, task: Any, value: Any) -> None:
        """Loop thread: hand ``value`` to ``task`` in its trio run, batched."""
        with self._results_lock:
            queued = self._to_trio.get(token)
            if queued is not None:
                queued.append((task, value))
                return
            self._to_trio[token] = [(task, value)]
        try:
            token.run_sync_soon(self._drain_trio_side, token)
        except trio.RunFinishedError:  # pragma: no cover - trio run already gone
            with self._results_lock:
                self._to_trio.pop(token, None)
            _log.error("asyncio bridge: trio run finished before a call returned")

    def _drain_trio_side(self, token: trio.lowlevel.TrioToken) -> None:  # trio thread
        with self._results_lock:
            batch = self._to_trio.pop(token, [])
        for task, value in batch:
            trio.lowlevel.reschedule(task, value)

    def _main(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            try:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def run(self, fn: Callable[[*Ts], Coroutine[Any, Any, T]], *args: *Ts) -> T:
        """Await ``fn(*args)`` on the loop thread from trio and return its result.

        The coroutine object is created on the loop thread. Cancellation is delivered
        as described in the module docstring; if the coroutine finished before the
        cancel reached it, its result is returned (the next checkpoint raises).
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        loop = self._loop
        if loop is None:
            raise StoreError("storage bridge is not started")
        trio_task = trio.lowlevel.current_task()
        token = trio.lowlevel.current_trio_token()
        call = _Call()

        def deliver(fut: asyncio.Future[T]) -> None:  # loop thread
            result: outcome.Outcome[T]
            if fut.cancelled():
                result = outcome.Error(asyncio.CancelledError())
            else:
                exc = fut.exception()
                result = outcome.Value(fut.result()) if exc is None else outcome.Error(exc)
            # Wrapped once more: wait_task_rescheduled unwraps what it is sent, and
            # the trio side wants the asyncio outcome itself to inspect it.
            self._deliver(token, trio_task, outcome.Value(result))

        def begin() -> None:  # loop thread
            try:
                task = loop.create_task(fn(*args))
            except BaseException as exc:  # fn raised before returning a coroutine
                self._deliver(token, trio_task, outcome.Value(outcome.Error(exc)))
                return
            call.aio_task = task
            task.add_done_callback(deliver)

        def cancel() -> None:  # loop thread; queue order guarantees begin() ran first
            if call.aio_task is not None:
                call.aio_task.cancel()

        def abort(raise_cancel: Callable[[], None]) -> trio.lowlevel.Abort:  # trio thread
            call.raise_cancel = raise_cancel
            # Closed: the loop's shutdown cancels every task, so deliver() runs anyway.
            # RuntimeError: the loop is closed, so deliver() has run or will run.
            with self._lock, contextlib.suppress(RuntimeError):
                if not self._closed:
                    self._post(cancel)
            return trio.lowlevel.Abort.FAILED

        with self._lock:
            if self._closed:
                raise StoreError("storage bridge is stopped")
            self._post(begin)

        result: outcome.Outcome[T] = await trio.lowlevel.wait_task_rescheduled(abort)
        if isinstance(result, outcome.Error) and isinstance(result.error, asyncio.CancelledError):
            if call.raise_cancel is not None:
                call.raise_cancel()  # raises trio.Cancelled (or KeyboardInterrupt)
            raise StoreError("storage bridge stopped while a call was running")
        return result.unwrap()
