"""A lean HTTP/1.1 server for ASGI apps on trio: the simulator's default front end.

Why not only hypercorn: on the 2-core machines metad is developed on, hypercorn's trio
worker answered ~1,100 requests/s with a bare ASGI handler (wrk, 32 keep-alive
connections, measured for this module), while a plain trio socket loop answered ~20,000.
The simulator must sustain >= 3,000 sends/s (bench/sim_throughput.py), so it serves its
ASGI app (:class:`sim.app.SimASGI`: the send fast path, with quart-trio behind it) with
this small server by default; ``serve_sim(server="hypercorn")`` keeps hypercorn
available. What it supports is what Graph API clients use: HTTP/1.1 keep-alive and
pipelining, HTTP/1.0, ``Content-Length`` and chunked request bodies,
``Expect: 100-continue``, idle timeouts, size limits, and the ASGI lifespan protocol.
Not supported: HTTP/2, TLS, websockets, streaming responses (a response is sent once
complete, with ``Content-Length``).
"""

from __future__ import annotations

import contextlib
import http
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import trio

from daemon.webhook.server import listen_errors, split_listen

__all__ = ["serve_http"]

log = logging.getLogger("metad.sim.http")

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
MAX_HEAD = 64 * 1024
MAX_BODY = 110 * 1024 * 1024
KEEP_ALIVE_S = 75.0
_ASGI = {"version": "3.0", "spec_version": "2.3"}


class _BadRequest(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def _reply(status: int, headers: list[tuple[bytes, bytes]], body: bytes, close: bool) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {status} {phrase}".encode()]
    has_length = False
    for name, value in headers:
        if name.lower() == b"content-length":
            has_length = True
        lines.append(name + b": " + value)
    if not has_length:
        lines.append(b"content-length: " + str(len(body)).encode())
    if close:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class _Connection:
    def __init__(self, stream: trio.SocketStream, app: Asgi, server: tuple[str, int]) -> None:
        self.stream = stream
        self.app = app
        self.server = server
        self.buf = bytearray()
        try:
            peer = stream.socket.getpeername()
            self.client: tuple[str, int] | None = (str(peer[0]), int(peer[1]))
        except OSError:
            self.client = None

    async def _fill(self) -> bool:
        data = await self.stream.receive_some(65536)
        if not data:
            return False
        self.buf += data
        return True

    async def run(self) -> None:
        try:
            while await self._one():
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except _BadRequest as exc:
            body = str(exc).encode()
            headers = [(b"content-type", b"text/plain")]
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self.stream.send_all(_reply(exc.status, headers, body, close=True))
        finally:
            with trio.CancelScope(shield=True):
                await self.stream.aclose()

    async def _one(self) -> bool:
        """Serve one request; False when the connection is to be closed."""
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:  # wait for the head (a cancel scope only when waiting: it is not free)
            with trio.move_on_after(KEEP_ALIVE_S) as idle:
                while (end := self.buf.find(b"\r\n\r\n")) < 0:
                    if len(self.buf) > MAX_HEAD:
                        raise _BadRequest(431, "request head too large")
                    if not await self._fill():
                        return False
            if idle.cancelled_caught:
                return False
        head = bytes(self.buf[:end])
        del self.buf[: end + 4]
        lines = head.split(b"\r\n")
        try:
            method, target, version = lines[0].decode("latin-1").split(" ")
        except ValueError:
            raise _BadRequest(400, "bad request line") from None
        if not version.startswith("HTTP/1."):
            raise _BadRequest(505, "HTTP version not supported")
        headers: list[tuple[bytes, bytes]] = []
        length, chunked, keep_alive = 0, False, version == "HTTP/1.1"
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise _BadRequest(400, "bad header line")
            name, value = name.strip().lower(), value.strip()
            headers.append((name, value))
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise _BadRequest(400, "bad content-length") from None
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                token = value.lower()
                keep_alive = b"close" not in token and (keep_alive or b"keep-alive" in token)
            elif name == b"expect" and value.lower() == b"100-continue":
                await self.stream.send_all(b"HTTP/1.1 100 Continue\r\n\r\n")
        if length > MAX_BODY:
            raise _BadRequest(413, "request body too large")
        body = await (self._chunked() if chunked else self._exact(length))
        path, _, query = target.partition("?")
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": version[5:],
            "method": method.upper(),
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": headers,
            "client": self.client,
            "server": self.server,
            "extensions": {},
        }
        status, resp_headers, resp_body = await self._call(scope, body)
        await self.stream.send_all(_reply(status, resp_headers, resp_body, not keep_alive))
        return keep_alive

    async def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not await self._fill():
                raise trio.BrokenResourceError("client closed mid-body")
        body = bytes(self.buf[:n])
        del self.buf[:n]
        return body

    async def _chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            while (eol := self.buf.find(b"\r\n")) < 0:
                if not await self._fill():
                    raise trio.BrokenResourceError("client closed mid-body")
            try:
                size = int(bytes(self.buf[:eol]).split(b";")[0], 16)
            except ValueError:
                raise _BadRequest(400, "bad chunk size") from None
            del self.buf[: eol + 2]
            total += size
            if total > MAX_BODY:
                raise _BadRequest(413, "request body too large")
            if size == 0:
                await self._exact(2)  # the final CRLF (no trailers supported)
                return b"".join(parts)
            parts.append(await self._exact(size))
            await self._exact(2)

    async def _call(
        self, scope: dict[str, Any], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        sent_body = False
        done = trio.Event()
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(event: dict[str, Any]) -> None:
            nonlocal status, headers
            if event["type"] == "http.response.start":
                status = int(event["status"])
                headers = [(bytes(k), bytes(v)) for k, v in event.get("headers", [])]
            elif event["type"] == "http.response.body":
                chunks.append(bytes(event.get("body", b"")))
                if not event.get("more_body", False):
                    done.set()

        try:
            await self.app(scope, receive, send)
        except Exception:
            log.exception("ASGI app failed")
            return 500, [(b"content-type", b"text/plain")], b"internal error"
        finally:
            done.set()
        return status, headers, b"".join(chunks)


async def _lifespan(app: Asgi, *, task_status: trio.TaskStatus[trio.Event]) -> None:
    """Run the app's lifespan: startup before serving, shutdown when cancelled."""
    to_app, app_in = trio.open_memory_channel[dict[str, Any]](2)
    started, finished = trio.Event(), trio.Event()

    async def receive() -> dict[str, Any]:
        return await app_in.receive()

    async def send(event: dict[str, Any]) -> None:
        if event["type"].startswith("lifespan.startup"):
            started.set()
        elif event["type"].startswith("lifespan.shutdown"):
            finished.set()

    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(app, {"type": "lifespan", "asgi": _ASGI, "state": {}}, receive, send)
        await to_app.send({"type": "lifespan.startup"})
        await started.wait()
        task_status.started(stop)
        await stop.wait()
        await to_app.send({"type": "lifespan.shutdown"})
        with trio.move_on_after(1.0):
            await finished.wait()
        nursery.cancel_scope.cancel()


async def serve_http(
    app: Asgi,
    host: str,
    port: int,
    *,
    what: str = "sandbox simulator",
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    graceful_s: float = 0.5,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``host:port`` until cancelled or ``shutdown_trigger`` returns.

    ``started()`` receives the bound URLs (port 0 picks a free port); an address that
    cannot be listened on raises :class:`~daemon.webhook.server.PortInUse` (naming
    ``what``) before that.
    """
    listen = f"{host}:{port}"
    split_listen(listen, what)  # getaddrinfo would wrap a port over 65535
    with listen_errors(listen, what):
        listeners = await trio.open_tcp_listeners(port, host=host, backlog=1024)
    try:
        sockname = listeners[0].socket.getsockname()
        bound = (str(sockname[0]), int(sockname[1]))
        async with trio.open_nursery() as outer:
            stop_lifespan = await outer.start(_lifespan, app)
            accepting = trio.CancelScope()
            async with trio.open_nursery() as conns:

                async def handler(stream: trio.SocketStream) -> None:
                    await _Connection(stream, app, bound).run()

                async def accept() -> None:
                    with accepting:
                        await trio.serve_listeners(handler, listeners, handler_nursery=conns)

                conns.start_soon(accept)
                task_status.started([f"http://{bound[0]}:{bound[1]}"])
                if shutdown_trigger is None:
                    await trio.sleep_forever()
                await shutdown_trigger()
                accepting.cancel()
                # Requests in flight may finish; idle keep-alive connections are cut.
                conns.cancel_scope.deadline = trio.current_time() + graceful_s
            stop_lifespan.set()
    finally:
        with trio.CancelScope(shield=True):
            for listener in listeners:
                await listener.aclose()
