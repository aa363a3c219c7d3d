"""The trio client of the control socket, for ``metad ctl``.

Why a separate small client (the console has its own, on asyncio): ``metad ctl`` is a
one-shot command; it connects, asks, prints and exits — with a clear message when no
daemon is listening, and, given a ``timeout``, when one is there but does not answer
(stopped with SIGSTOP, stuck): the kernel accepts a connection on the socket's backlog
for a process that never reads it, so without a bound a script would wait for ever.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import trio

from daemon.control import protocol as p

__all__ = ["ControlError", "CtlClient", "NoAnswer", "NotRunning", "connect"]


class NotRunning(Exception):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"no metad is listening on {path} ({reason}); is `metad run` up?")


class ControlError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class NoAnswer(ControlError):
    """Connecting or a call's answer took longer than the client's ``timeout``.

    A :class:`ControlError` (``UNAVAILABLE``), so callers that report a failed call
    report this one the same way.
    """

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__(p.UNAVAILABLE, f"no answer from the daemon at {path} within {timeout:g} s")
        self.path = path
        self.timeout = timeout


@contextmanager
def _answer_within(path: Path, timeout: float | None) -> Iterator[None]:
    """Raise :class:`NoAnswer` when the block takes longer than ``timeout`` (None: no bound)."""
    if timeout is None:
        yield
        return
    try:
        with trio.fail_after(timeout):
            yield
    except trio.TooSlowError:
        raise NoAnswer(path, timeout) from None


class CtlClient:
    """One connection. ``timeout`` bounds each call's wait for its answer; an event
    stream's events, which come when they happen, are never bounded."""

    def __init__(
        self, stream: trio.SocketStream, *, path: Path | None = None, timeout: float | None = None
    ) -> None:
        self._stream = stream
        self._path = path or Path("?")
        self._timeout = timeout
        self._decoder = p.LineDecoder()
        self._pending: list[p.Request | p.Response | p.Notification] = []
        self._ids = itertools.count(1)

    async def _next(self) -> p.Request | p.Response | p.Notification:
        while not self._pending:
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                raise ControlError(p.UNAVAILABLE, "the daemon closed the connection")
            self._pending.extend(p.decode(line) for line in self._decoder.feed(chunk))
        return self._pending.pop(0)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        with _answer_within(self._path, self._timeout):
            return await self._call(method, params)

    async def _call(self, method: str, params: dict[str, Any] | None) -> Any:
        request_id = next(self._ids)
        await self._stream.send_all(p.request(request_id, method, params))
        while True:
            msg = await self._next()
            if isinstance(msg, p.Response) and msg.id == request_id:
                if msg.error is not None:
                    raise ControlError(int(msg.error.get("code", 0)), str(msg.error.get("message")))
                return msg.result

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Subscribe and yield each event's params until the daemon ends the stream.

        Only the subscription's answer is bounded by ``timeout``: a quiet fleet may send
        no event for hours, and that is no sign of a stuck daemon."""
        await self.call("subscribe")
        while True:
            msg = await self._next()
            if isinstance(msg, p.Notification):
                if msg.method == "resync":
                    raise ControlError(p.UNAVAILABLE, "too slow: the daemon asked to resync")
                yield msg.params


@asynccontextmanager
async def connect(path: Path, *, timeout: float | None = None) -> AsyncIterator[CtlClient]:
    """A client on the socket at ``path``; :class:`NotRunning` when nothing listens there.

    ``timeout`` (seconds; None: no bound) bounds connecting and then each call's wait for
    its answer, raising :class:`NoAnswer`.
    """
    with _answer_within(path, timeout):
        try:
            stream = await trio.open_unix_socket(str(path))
        except OSError as exc:
            raise NotRunning(path, exc.strerror or str(exc)) from None
    async with stream:
        yield CtlClient(stream, path=path, timeout=timeout)
