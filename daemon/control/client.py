"""The trio client of the control socket, for ``metad ctl``.

Why a separate small client (the console has its own, on asyncio): ``metad ctl`` is a
one-shot command; it connects, asks, prints and exits — with a clear message when no
daemon is listening.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from daemon.control import protocol as p

__all__ = ["ControlError", "CtlClient", "NotRunning", "connect"]


class NotRunning(Exception):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"no metad is listening on {path} ({reason}); is `metad run` up?")


class ControlError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class CtlClient:
    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
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
        request_id = next(self._ids)
        await self._stream.send_all(p.request(request_id, method, params))
        while True:
            msg = await self._next()
            if isinstance(msg, p.Response) and msg.id == request_id:
                if msg.error is not None:
                    raise ControlError(int(msg.error.get("code", 0)), str(msg.error.get("message")))
                return msg.result

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Subscribe and yield each event's params until the daemon ends the stream."""
        await self.call("subscribe")
        while True:
            msg = await self._next()
            if isinstance(msg, p.Notification):
                if msg.method == "resync":
                    raise ControlError(p.UNAVAILABLE, "too slow: the daemon asked to resync")
                yield msg.params


@asynccontextmanager
async def connect(path: Path) -> AsyncIterator[CtlClient]:
    try:
        stream = await trio.open_unix_socket(str(path))
    except OSError as exc:
        raise NotRunning(path, exc.strerror or str(exc)) from None
    async with stream:
        yield CtlClient(stream)
