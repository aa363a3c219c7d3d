"""The control socket: a Unix socket (mode 0600) speaking the control protocol.

Why a Unix socket and no TCP: the operator console runs on the daemon's machine, and
file permissions are the access control — only the daemon's user may connect. trio has
no Unix listener helper, so it is built from ``trio.socket`` + ``SocketListener``.

Each connection handles requests concurrently (a slow ``send.test`` does not hold up a
``status.snapshot``); writes are serialised. ``subscribe`` turns the connection into an
event stream fed by the bus, written in batches (one ``send_all`` per 10 ms at most, not
one per event), each event encoded once whatever the number of subscribers; a subscriber
that falls behind gets ``resync`` and is disconnected — it never slows the daemon.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket as stdsocket
from pathlib import Path
from typing import Any

import trio

from actors.core import ActorCrashed, ActorStopped, CallTimeout
from daemon.bus import BusEvent, Subscription
from daemon.control import protocol as p
from daemon.control.methods import METHODS, ControlContext, MethodError, chips

__all__ = ["ControlSocketError", "EventLines", "publish_forever", "serve_control"]

log = logging.getLogger("metad.control")

_MAX_UNIX_PATH = 107


class ControlSocketError(Exception):
    pass


def _prepare(path: Path) -> bool:
    """Check the path and make its directory; True when a socket file is already there."""
    if len(os.fsencode(path)) > _MAX_UNIX_PATH:
        raise ControlSocketError(f"control socket path too long ({len(str(path))} > 107): {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.exists() or path.is_symlink()


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


async def _bind(path: Path) -> trio.socket.SocketType:
    if _prepare(path):
        probe = trio.socket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
        try:
            await probe.connect(str(path))
        except OSError:
            _unlink(path)  # stale: left by a daemon that died
        else:
            raise ControlSocketError(f"another daemon is listening on {path}")
        finally:
            probe.close()
    sock = trio.socket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        await sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(64)
    return sock


async def serve_control(
    ctx: ControlContext,
    path: Path,
    *,
    task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED,
) -> None:
    sock = await _bind(path)
    listener = trio.SocketListener(sock)
    lines = EventLines()
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(
                trio.serve_listeners,
                lambda stream: _Connection(ctx, stream, lines).run(),
                [listener],
            )
            task_status.started(path)
    finally:
        _unlink(path)


class EventLines:
    """Each bus event encoded once, its line shared by every subscriber's batch.

    The bus hands every subscriber the same :class:`BusEvent` object, so the line is
    looked up by identity (the entry holds the event: its ``id`` cannot be reused while
    it is cached). The last :data:`ENCODED_KEPT` lines are kept: more than a
    subscriber's whole buffer, so a subscriber that lags by a full buffer still finds
    the line another one made. With one subscriber it costs a dict lookup per event.
    """

    def __init__(self, kept: int | None = None) -> None:
        self._kept = ENCODED_KEPT if kept is None else kept
        self._lines: dict[int, tuple[BusEvent, bytes]] = {}
        self.encoded = 0

    def line(self, event: BusEvent) -> bytes:
        key = id(event)
        cached = self._lines.get(key)
        if cached is not None and cached[0] is event:
            return cached[1]
        line = p.notification("event", {"kind": event.kind, "at": event.at, "data": event.data})
        self.encoded += 1
        self._lines.pop(key, None)  # a stale entry (an id reused): to the end, as new
        self._lines[key] = (event, line)
        if len(self._lines) > self._kept:
            del self._lines[next(iter(self._lines))]  # the oldest
        return line


class _Connection:
    def __init__(self, ctx: ControlContext, stream: trio.SocketStream, lines: EventLines) -> None:
        self._ctx = ctx
        self._stream = stream
        self._lines = lines
        self._lock = trio.Lock()

    async def _send(self, data: bytes) -> None:
        async with self._lock:
            await self._stream.send_all(data)

    async def run(self) -> None:
        decoder = p.LineDecoder()
        try:
            async with trio.open_nursery() as nursery:
                while True:
                    chunk = await self._stream.receive_some(65536)
                    if not chunk:
                        break
                    try:
                        lines = decoder.feed(chunk)
                    except p.LineTooLong as exc:
                        await self._send(p.error_response(None, p.INVALID_REQUEST, str(exc)))
                        break
                    for line in lines:
                        await self._line(line, nursery)
                nursery.cancel_scope.cancel()
        except* (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away, or was cut off as too slow (from the nursery: a group)
        finally:
            await self._stream.aclose()

    async def _line(self, line: bytes, nursery: trio.Nursery) -> None:
        try:
            msg = p.decode(line)
        except p.ProtocolError as exc:
            await self._send(p.error_response(exc.request_id, exc.code, str(exc)))
            return
        if not isinstance(msg, p.Request):
            return  # notifications and stray responses from a client are ignored
        if msg.method == "subscribe":
            nursery.start_soon(self._subscribe, msg)
        else:
            nursery.start_soon(self._dispatch, msg)

    async def _dispatch(self, req: p.Request) -> None:
        handler = METHODS.get(req.method)
        if handler is None:
            await self._send(
                p.error_response(req.id, p.METHOD_NOT_FOUND, f"unknown method {req.method!r}")
            )
            return
        told = False

        async def tell_if_the_store_hangs() -> None:
            nonlocal told
            why = await _store_hangs(self._ctx)
            told = True
            log.warning("control call %s waits on the store (%s): told the caller", req.method, why)
            message = (
                f"storage is not answering ({why}): {req.method} is still waiting for it"
                " (an action may take effect once the store answers again)"
            )
            with trio.CancelScope(shield=True):  # never half a line, if the call ends now
                await self._send(p.error_response(req.id, p.UNAVAILABLE, message))

        async with trio.open_nursery() as watch:
            if self._ctx.store_check is not None:
                watch.start_soon(tell_if_the_store_hangs)
            answer = await self._answer(handler, req)
            watch.cancel_scope.cancel()
        if told:
            log.info("control call %s ended after its caller was told the store hung", req.method)
        else:
            await self._send(answer)

    async def _answer(self, handler: Any, req: p.Request) -> bytes:
        try:
            result = await handler(self._ctx, req.params)
        except MethodError as exc:
            message = str(exc)
            if exc.code == p.UNAVAILABLE and self._ctx.store_check is not None:
                # An actor that crashed or timed out on a silent store said only that.
                why = await self._ctx.store_check()
                if why is not None:
                    message += f" (storage is not answering: {why})"
            return p.error_response(req.id, exc.code, message)
        except Exception as exc:  # a bug answers an error; it never kills the connection
            log.exception("control method %s failed", req.method)
            return p.error_response(req.id, p.INTERNAL_ERROR, f"internal error: {exc}")
        return p.result_response(req.id, result)

    async def _subscribe(self, req: p.Request) -> None:
        sub = self._ctx.bus.subscribe()
        try:
            await self._send(p.result_response(req.id, {"subscribed": True}))
            while (batch := await _next_batch(sub, self._lines)) is not None:
                await self._send(batch)
                await trio.sleep(FLUSH_INTERVAL_S)  # let the next batch gather
            if sub.lagged:
                with trio.move_on_after(RESYNC_SEND_TIMEOUT_S):
                    await self._send(p.notification("resync", {"reason": "subscriber too slow"}))
                await self._stream.aclose()
        finally:
            sub.close()


STORE_GRACE_S = 3.0
"""A call still running after this long asks whether the store answers (then again as
often): well inside the clients' 10 s, so a caller waiting on a silent PostgreSQL hears
why in seconds, while a call that is only slow (``send-test`` waits on Meta) goes on."""


async def _store_hangs(ctx: ControlContext) -> str:
    """Return, once a call has run :data:`STORE_GRACE_S` and the store does not answer,
    why (the probe's reason); never while it answers.

    Why the control socket needs this: a store call cannot be cut short (the bridge
    waits for asyncpg, and asyncpg for the silent server), so while PostgreSQL was
    stopped every call that touched it — ``status``, ``campaign pause`` — said nothing
    until the client gave up with "no answer from the daemon within 10 s", the same
    words as a dead daemon, and a pause then took effect minutes later unannounced."""
    assert ctx.store_check is not None
    while True:
        await trio.sleep(STORE_GRACE_S)
        why = await ctx.store_check()
        if why is not None:
            return why


FLUSH_INTERVAL_S = 0.01
"""A subscriber's writes are at most this often: under load one ``send_all`` carries
every event that gathered meanwhile (tens, not one syscall per event), and a lone event
still goes out at once (the pause comes after a write, not before)."""
MAX_BATCH = 512
"""Events per write at most: a bounded line buffer, whatever the backlog."""
RESYNC_SEND_TIMEOUT_S = 1.0
"""A subscriber cut off for being slow may not be reading at all: tell it if it can take
the notice soon, else just close."""


ENCODED_KEPT = 4096
"""Encoded event lines kept for the other subscribers (see :class:`EventLines`)."""


async def _next_batch(sub: Subscription, lines: EventLines) -> bytes | None:
    """The encoded notifications of every event waiting (at least one), or None at the
    end of the stream. A subscription the bus cut off ends at once: the events still
    buffered are stale, and the subscriber resyncs from a snapshot anyway."""
    try:
        first = await sub.receive.receive()
    except trio.EndOfChannel:
        return None
    if sub.lagged:
        return None
    batch = [lines.line(first)]
    while len(batch) < MAX_BATCH:
        try:
            batch.append(lines.line(sub.receive.receive_nowait()))
        except (trio.WouldBlock, trio.EndOfChannel):
            break
    return b"".join(batch)


async def publish_forever(ctx: ControlContext, interval_s: float = 1.0) -> None:
    """Chip changes and per-second send counts onto the bus (only while someone listens)."""
    last: dict[str, dict[str, Any]] = {}
    last_counts: dict[str, int] = {}
    while True:
        await trio.sleep(interval_s)
        if ctx.bus.subscribers == 0:
            continue
        try:
            current = await chips(ctx)  # today's figures counted again when due
        except (MethodError, ActorCrashed, ActorStopped, CallTimeout):
            continue
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            continue
        for chip in current:
            pnid = chip["phone_number_id"]
            if last.get(pnid) != chip:
                ctx.bus.publish("chip", chip)
                last[pnid] = chip
        counts = {
            "accepted": sum(c["accepted"] for c in current),
            "failed": sum(c["failed"] for c in current),
            "statuses": ctx.statuses(),
        }
        delta = {k: max(0, v - last_counts.get(k, v)) for k, v in counts.items()}
        last_counts = counts
        ctx.bus.publish("sends", delta)
