"""A tiny HTTP/1.1 server for tests: records every POSTed JSON body and answers with
the statuses it is told to (then 200), so retries and outages can be played."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any

import trio

__all__ = ["Receiver"]


class Receiver:
    def __init__(self, statuses: Iterable[int] = ()) -> None:
        self.bodies: list[dict[str, Any]] = []
        """Bodies answered with a 2xx (what was delivered)."""
        self.attempts = 0
        self._statuses = deque(statuses)
        self.port = 0

    async def serve(self, port: int = 0, *, task_status: trio.TaskStatus[int]) -> None:
        listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._handle, listeners)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"

    async def _handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                body += await stream.receive_some(65536)
            self.attempts += 1
            status = self._statuses.popleft() if self._statuses else 200
            if 200 <= status < 300:
                self.bodies.append(json.loads(body))
            await stream.send_all(
                f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
