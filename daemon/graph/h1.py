"""A small keep-alive HTTP/1.1 client for the message-send POST, the daemon's hot path.

Why not httpx there: a campaign POSTs one request per message, and httpx spent about
half of the daemon's CPU on them (py-spy, 20 chips, 2026-11-26): its connection pool
checks every connection against every other one each time a request starts or ends
(``_assign_requests_to_connections`` is quadratic in the pool size), and its client
layers (auth, redirects, cookies, streams) run for every request. A send needs none of
that: one origin, a POST with a body of known length, an answer of a few hundred bytes.

What it does: keeps up to ``max_connections`` connections to the Graph origin (plain
TCP or TLS), reuses the most recently used idle one, and drops an idle one that is older
than ``keepalive_s`` or that the server has closed or written to (the socket is readable
while idle: the same check httpcore makes before reuse). It reads answers framed by
Content-Length, chunked encoding or the end of the connection, and honours
``Connection: close``. A connection is reused only after a complete answer; anything
else (an error, a timeout, a cancellation) closes it.

Errors are raised as httpx's exception types so that the transport classifies them
exactly as before: ``ConnectError``/``ConnectTimeout`` (the request never left, safe to
say "not sent"), ``WriteError``, ``ReadTimeout`` and ``RemoteProtocolError`` (it may
have reached Meta: in doubt). Concurrency is bounded by the caller (the transport's
limiter), not here.
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Sequence

import httpx
import trio

__all__ = ["H1Pool"]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 * 1024 * 1024
_CHUNK = 65_536


def _tls_context() -> ssl.SSLContext:
    try:
        import certifi  # what httpx trusts by default
    except ImportError:  # pragma: no cover - httpx depends on it
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class _Conn:
    __slots__ = ("buffer", "socket", "stream")

    def __init__(self, stream: trio.abc.Stream, socket: trio.socket.SocketType) -> None:
        self.stream = stream
        self.socket = socket
        self.buffer = bytearray()
        """Bytes received past the previous answer (none with a well-behaved server)."""

    def close(self) -> None:
        """Abrupt and synchronous: usable in a ``finally`` under cancellation."""
        self.socket.close()

    async def receive(self) -> bytes | bytearray:
        try:
            return await self.stream.receive_some(_CHUNK)
        except (trio.BrokenResourceError, OSError) as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc

    async def read_head(self) -> tuple[str, int, dict[str, str]]:
        buf = self.buffer
        start = 0
        while True:
            end = buf.find(b"\r\n\r\n", start)
            if end >= 0:
                break
            start = max(0, len(buf) - 3)
            if len(buf) > _MAX_HEAD:
                raise httpx.RemoteProtocolError("answer headers too long")
            data = await self.receive()
            if not data:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            buf += data
        head = bytes(buf[:end]).decode("latin-1")
        del buf[: end + 4]
        status_line, _, rest = head.partition("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise httpx.RemoteProtocolError(f"bad status line {status_line[:80]!r}")
        headers: dict[str, str] = {}
        for line in rest.split("\r\n") if rest else ():
            name, sep, value = line.partition(":")
            if not sep:
                raise httpx.RemoteProtocolError(f"bad header line {line[:80]!r}")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return parts[0], int(parts[1]), headers

    async def read_exactly(self, n: int) -> bytes:
        buf = self.buffer
        while len(buf) < n:
            data = await self.receive()
            if not data:
                raise httpx.RemoteProtocolError("Server disconnected in the middle of an answer.")
            buf += data
        out = bytes(buf[:n])
        del buf[:n]
        return out

    async def read_line(self) -> bytes:
        buf = self.buffer
        while (end := buf.find(b"\r\n")) < 0:
            if len(buf) > _MAX_HEAD:
                raise httpx.RemoteProtocolError("chunk line too long")
            data = await self.receive()
            if not data:
                raise httpx.RemoteProtocolError("Server disconnected in the middle of an answer.")
            buf += data
        line = bytes(buf[:end])
        del buf[: end + 2]
        return line

    async def read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_field = (await self.read_line()).split(b";", 1)[0].strip()
            try:
                size = int(size_field, 16)
            except ValueError:
                raise httpx.RemoteProtocolError("bad chunk size") from None
            if size == 0:
                while await self.read_line():  # trailers, up to the empty line
                    pass
                return bytes(body)
            if len(body) + size > _MAX_BODY:
                raise httpx.RemoteProtocolError("answer too large")
            body += await self.read_exactly(size)
            if await self.read_exactly(2) != b"\r\n":
                raise httpx.RemoteProtocolError("bad chunk end")

    async def read_to_end(self) -> bytes:
        body = self.buffer
        while data := await self.receive():
            body += data
            if len(body) > _MAX_BODY:
                raise httpx.RemoteProtocolError("answer too large")
        self.buffer = bytearray()
        return bytes(body)


class H1Pool:
    """Keep-alive connections to one origin; :meth:`post` is one request and its answer."""

    def __init__(
        self,
        base_url: str,
        *,
        keepalive_s: float = 4.0,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = "metad",
    ) -> None:
        url = urllib.parse.urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._tls = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port or (443 if self._tls else 80)
        default_port = self._port == (443 if self._tls else 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._authority = host if default_port else f"{host}:{self._port}"
        self._ssl = ssl_context
        self._keepalive_s = keepalive_s
        self._fixed = f"Host: {self._authority}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\n"
        self._idle: list[tuple[float, _Conn]] = []
        self._closed = False
        self.opened = 0
        """Connections opened (for tests and metrics)."""

    def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop()[1].close()

    async def post(
        self,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        connect_s: float,
        timeout_s: float,
    ) -> tuple[int, bytes]:
        """POST ``body`` to ``target`` (a path with its query); (status, answer body).

        ``timeout_s`` bounds the whole exchange after the connection is there."""
        if self._closed:
            raise httpx.ConnectError("client closed")
        conn = self._take_idle()
        if conn is None:
            conn = await self._connect(connect_s)
        keep = False
        try:
            head = f"POST {target} HTTP/1.1\r\n{self._fixed}"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers)
            head += f"Content-Length: {len(body)}\r\n\r\n"
            with trio.move_on_after(timeout_s) as waited:
                try:
                    await conn.stream.send_all(head.encode("latin-1") + body)
                except (trio.BrokenResourceError, OSError) as exc:
                    raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
                status, answer, keep = await self._answer(conn)
            if waited.cancelled_caught:
                raise httpx.ReadTimeout(f"no complete answer within {timeout_s:g} s")
            return status, answer
        finally:
            if keep and not self._closed:
                self._idle.append((trio.current_time(), conn))
            else:
                conn.close()

    async def _answer(self, conn: _Conn) -> tuple[int, bytes, bool]:
        version, status, headers = await conn.read_head()
        while 100 <= status < 200:  # an interim answer (we never ask for one): skip it
            version, status, headers = await conn.read_head()
        tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        keep = version == "HTTP/1.1" and "close" not in tokens
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return status, await conn.read_chunked(), keep
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or int(length) > _MAX_BODY:
                raise httpx.RemoteProtocolError(f"bad Content-Length {length[:20]!r}")
            return status, await conn.read_exactly(int(length)), keep
        if status in (204, 304):
            return status, b"", keep
        return status, await conn.read_to_end(), False

    def _take_idle(self) -> _Conn | None:
        now = trio.current_time()
        while self._idle:
            since, conn = self._idle.pop()  # the most recently used: the least likely stale
            if now - since > self._keepalive_s or conn.buffer or conn.socket.is_readable():
                conn.close()  # expired, or the server closed it (or wrote out of turn)
                continue
            return conn
        return None

    async def _connect(self, connect_s: float) -> _Conn:
        with trio.move_on_after(connect_s):
            try:
                tcp = await trio.open_tcp_stream(self._host, self._port)
            except OSError as exc:
                raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
            stream: trio.abc.Stream = tcp
            if self._tls:
                if self._ssl is None:
                    self._ssl = _tls_context()
                tls = trio.SSLStream(
                    tcp, self._ssl, server_hostname=self._host, https_compatible=True
                )
                try:
                    await tls.do_handshake()
                except (trio.BrokenResourceError, OSError) as exc:
                    tcp.socket.close()
                    raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
                except BaseException:
                    tcp.socket.close()
                    raise
                stream = tls
            self.opened += 1
            return _Conn(stream, tcp.socket)
        raise httpx.ConnectTimeout(f"no connection within {connect_s:g} s")
