"""The console's side of the control socket: asyncio, speaking :mod:`daemon.control.protocol`.

Why a listener and not an async generator: the console runs :meth:`ControlClient.run` in a
Textual worker that is cancelled when the app exits; a plain coroutine that calls back
unwinds cleanly under cancellation, an abandoned async generator does not.

One session is: open the socket, ``subscribe``, ``status.snapshot``, then forward events
until the connection ends (EOF, error, or a ``resync`` from a daemon that found us too
slow). Then wait (backoff 0.5 s doubling to 10 s, reset by every session that got as far
as a snapshot) and start again, so the console comes back by itself when the daemon
restarts. "Reconnect now" (ctrl+r) skips one wait; if that attempt fails too, the backoff
starts over from 0.5 s. ``subscribe`` goes first so no change falls between the snapshot
and the stream. Events are applied in arrival order, including those that overtake the
snapshot's answer (the daemon answers requests concurrently, so such an event is usually
the newer one).
"""

from __future__ import annotations

import asyncio
import enum
import itertools
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

from daemon.control import protocol

__all__ = [
    "Backoff",
    "CallTimeout",
    "ConnectionLost",
    "ConnectionStatus",
    "ControlClient",
    "ControlError",
    "ControlEvent",
    "ControlListener",
    "LinkState",
    "NotConnected",
    "RpcError",
    "SocketControlClient",
]


class ControlError(Exception):
    """A control call did not produce a result; the message is fit for the operator."""


class NotConnected(ControlError):
    pass


class ConnectionLost(ControlError):
    pass


class CallTimeout(ControlError):
    pass


class RpcError(ControlError):
    """The daemon answered with a JSON-RPC error (``-32002``: it refused, and says why)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code

    @classmethod
    def from_error(cls, error: Mapping[str, Any]) -> RpcError:
        code = error.get("code")
        return cls(
            code if isinstance(code, int) else protocol.INTERNAL_ERROR,
            str(error.get("message", "")),
        )


class LinkState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    state: LinkState
    target: str
    error: str | None = None
    retry_in: float | None = None
    """Seconds until the next attempt (``DISCONNECTED`` only), from the moment of the report."""
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """One ``event`` notification: ``kind`` is chip, actor, log or sends."""

    kind: str
    at: float
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ControlEvent | None:
        kind, at, data = params.get("kind"), params.get("at"), params.get("data")
        if not isinstance(kind, str) or not isinstance(data, dict):
            return None
        when = float(at) if isinstance(at, int | float) and not isinstance(at, bool) else 0.0
        return cls(kind, when, data)


class ControlListener(Protocol):
    """What a client reports to the console (all calls happen on the console's loop)."""

    def connection_changed(self, status: ConnectionStatus) -> None: ...

    def snapshot_received(self, snapshot: dict[str, Any]) -> None: ...

    def event_received(self, event: ControlEvent) -> None: ...


class ControlClient(Protocol):
    """What :class:`tui.app.MetadConsole` needs from the daemon; tests inject a fake."""

    @property
    def target(self) -> str:
        """Where the daemon is (shown in the status line)."""
        ...

    async def run(self, listener: ControlListener) -> None:
        """Connect, snapshot, subscribe and report, reconnecting forever; cancel to stop."""
        ...

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One request; raises :class:`ControlError` (``NotConnected``, ``RpcError`` …)."""
        ...

    def reconnect_now(self) -> None:
        """Skip the backoff wait, or drop a live connection and open a fresh one."""
        ...


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 10.0

    def after(self, delay: float | None) -> float:
        """The wait after one of ``delay`` (None: the first wait). Never below ``initial``:
        a zero wait (an operator's "reconnect now") times any factor stayed zero, and the
        client retried a missing socket without pause, forever."""
        if delay is None:
            return self.initial
        return min(self.maximum, max(self.initial, delay * self.factor))


@dataclass(frozen=True, slots=True)
class _Closed:
    reason: str


class _Connection:
    """One open socket: a reader task routes answers to futures and events to a queue."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_queue: int
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._max_queue = max_queue
        self._ids = itertools.count(1)
        self._pending: dict[int | str, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[ControlEvent | _Closed] = asyncio.Queue()
        self._closed: str | None = None
        self._task = asyncio.create_task(self._read_loop(), name="metad-control-reader")

    async def request(self, method: str, params: dict[str, Any], timeout: float) -> Any:
        if self._closed is not None:
            raise ConnectionLost(self._closed)
        request_id = next(self._ids)
        try:
            line = protocol.request(request_id, method, params)
        except protocol.LineTooLong as exc:
            raise ControlError(str(exc)) from None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write(line)
            await self._writer.drain()
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise CallTimeout(f"{method}: no answer within {timeout:g} s") from None
        except OSError as exc:
            raise ConnectionLost(f"connection lost: {exc}") from None
        finally:
            self._pending.pop(request_id, None)

    async def next_event(self) -> ControlEvent:
        item = await self._events.get()
        if isinstance(item, _Closed):
            self._events.put_nowait(item)
            raise ConnectionLost(item.reason)
        return item

    def abort(self, reason: str) -> None:
        self._shutdown(reason)
        self._task.cancel()

    async def close(self) -> None:
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        self._shutdown("closed")
        with suppress(OSError):
            await self._writer.wait_closed()

    async def _read_loop(self) -> None:
        reason = "the daemon closed the connection"
        try:
            reason = await self._read_until_stopped() or reason
        except protocol.LineTooLong as exc:
            reason = f"protocol error: {exc}"
        except OSError as exc:
            reason = f"connection lost: {exc}"
        finally:
            self._shutdown(reason)

    async def _read_until_stopped(self) -> str | None:
        """Dispatch lines until EOF (None) or a line that ends the session (its reason)."""
        decoder = protocol.LineDecoder()
        while data := await self._reader.read(64 * 1024):
            for line in decoder.feed(data):
                if (stop := self._dispatch(line)) is not None:
                    return stop
        return None

    def _dispatch(self, line: bytes) -> str | None:
        """Route one line; a reason to end the session, or None."""
        try:
            message = protocol.decode(line)
        except protocol.ProtocolError:
            return None  # one bad line from the daemon is not worth a reconnect
        if isinstance(message, protocol.Response):
            future = self._pending.get(message.id) if message.id is not None else None
            if future is not None and not future.done():
                if message.error is not None:
                    future.set_exception(RpcError.from_error(message.error))
                else:
                    future.set_result(message.result)
        elif isinstance(message, protocol.Notification):
            if message.method == "resync":
                return f"resync: {message.params.get('reason', 'the daemon asked')}"
            if message.method == "event":
                event = ControlEvent.from_params(message.params)
                if event is None:
                    return None
                if self._events.qsize() >= self._max_queue:
                    return "resync: the console fell behind the event stream"
                self._events.put_nowait(event)
        return None

    def _shutdown(self, reason: str) -> None:
        if self._closed is not None:
            return
        self._closed = reason
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(reason))
        self._events.put_nowait(_Closed(reason))
        self._writer.close()


class SocketControlClient:
    """The daemon at a Unix socket path."""

    def __init__(
        self,
        path: str,
        *,
        backoff: Backoff | None = None,
        call_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_queue: int = 10_000,
    ) -> None:
        self._path = path
        self._backoff = backoff or Backoff()
        self._call_timeout = call_timeout
        self._connect_timeout = connect_timeout
        self._max_queue = max_queue
        self._conn: _Connection | None = None
        self._wake: asyncio.Event | None = None
        self._immediate = False
        self._snapshotted = False

    @property
    def target(self) -> str:
        return self._path

    async def run(self, listener: ControlListener) -> None:
        self._wake = asyncio.Event()
        delay: float | None = None
        attempt = 0
        while True:
            attempt += 1
            listener.connection_changed(
                ConnectionStatus(LinkState.CONNECTING, self._path, attempt=attempt)
            )
            try:
                await self._session(listener)
                error = "the session ended"
            except (OSError, ControlError) as exc:
                error = _describe(exc)
            if self._snapshotted:
                delay, attempt = None, 0
            wait, delay = self._next_wait(delay)
            listener.connection_changed(
                ConnectionStatus(
                    LinkState.DISCONNECTED, self._path, error, retry_in=wait, attempt=attempt
                )
            )
            if await self._pause(wait):
                # Cut short by reconnect_now: the next attempt is the one asked for, and
                # the backoff starts over after it.
                self._immediate, delay = False, None

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        conn = self._conn
        if conn is None:
            raise NotConnected("not connected to the daemon")
        return await conn.request(method, params or {}, self._call_timeout)

    def _next_wait(self, delay: float | None) -> tuple[float, float | None]:
        """(the wait before the next attempt, the backoff to continue from).

        Asked to reconnect now: no wait, once, and the backoff starts over, so a daemon
        still down gets the usual 0.5 s, 1 s, 2 s … after that one immediate attempt."""
        if self._immediate:
            self._immediate = False
            return 0.0, None
        delay = self._backoff.after(delay)
        return delay, delay

    def reconnect_now(self) -> None:
        """One attempt now: a live connection is dropped and opened again, a wait ends.
        The flag covers an attempt under way (no wait is pending yet: the one after it is
        skipped)."""
        self._immediate = True
        if self._conn is not None:
            self._conn.abort("reconnect requested")
        if self._wake is not None:
            self._wake.set()

    async def _session(self, listener: ControlListener) -> None:
        self._snapshotted = False
        async with asyncio.timeout(self._connect_timeout):
            reader, writer = await asyncio.open_unix_connection(self._path, limit=protocol.MAX_LINE)
        conn = _Connection(reader, writer, self._max_queue)
        self._conn = conn
        try:
            await conn.request("subscribe", {}, self._call_timeout)
            snapshot = await conn.request("status.snapshot", {}, self._call_timeout)
            if not isinstance(snapshot, dict):
                raise ControlError("status.snapshot did not answer an object")
            self._snapshotted = True
            listener.connection_changed(ConnectionStatus(LinkState.CONNECTED, self._path))
            listener.snapshot_received(snapshot)
            while True:
                listener.event_received(await conn.next_event())
        finally:
            self._conn = None
            await conn.close()

    async def _pause(self, delay: float) -> bool:
        """Wait ``delay`` or until :meth:`reconnect_now`; True if that cut it short.

        Always yields to the loop at least once: connecting to a missing socket fails
        without awaiting anything, so attempts after zero waits would otherwise never let
        the console's loop run (no keys, no frames)."""
        assert self._wake is not None
        if not self._wake.is_set() and delay > 0:
            with suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
        else:
            await asyncio.sleep(0)
        woken = self._wake.is_set()
        self._wake.clear()
        return woken


def _describe(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no daemon socket (is metad running?)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (stale socket: is metad running?)"
    if isinstance(exc, PermissionError):
        return "permission denied on the socket"
    if isinstance(exc, TimeoutError):
        return "timed out connecting"
    if isinstance(exc, RpcError):
        return f"daemon error {exc.code}: {exc}"
    return str(exc) or type(exc).__name__
