"""The sends' own HTTP/1.1 client against a scripted local server (loopback sockets)."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from daemon.graph import Accepted, Failed, GraphClient, GraphTimeouts, InDoubt
from daemon.graph.h1 import H1Pool

OK_SEND = (
    b'{"messaging_product":"whatsapp","contacts":[{"input":"55","wa_id":"55"}],'
    b'"messages":[{"id":"wamid.X"}]}'
)

Reply = Callable[[trio.SocketStream, dict[str, Any]], Awaitable[bool]]
"""Answers one request; False closes the connection."""


async def _read_request(stream: trio.abc.Stream, buf: bytearray) -> dict[str, Any] | None:
    while b"\r\n\r\n" not in buf:
        data = await stream.receive_some(65536)
        if not data:
            return None
        buf += data
    end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    del buf[: end + 4]
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
    length = int(headers.get("content-length", "0"))
    while len(buf) < length:
        buf += await stream.receive_some(65536)
    body = bytes(buf[:length])
    del buf[:length]
    method, target, _ = head[0].split(" ")
    return {"method": method, "target": target, "headers": headers, "body": body}


@asynccontextmanager
async def _server(reply: Reply) -> AsyncIterator[tuple[int, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def handler(stream: trio.SocketStream) -> None:
        buf = bytearray()
        async with stream:
            while (req := await _read_request(stream, buf)) is not None:
                seen.append(req)
                if not await reply(stream, req):
                    return

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        yield listeners[0].socket.getsockname()[1], seen
        nursery.cancel_scope.cancel()


def _answer(body: bytes, *, extra: str = "", status: str = "200 OK") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
    if "Transfer-Encoding" not in extra:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _ok(stream: trio.SocketStream, req: dict[str, Any]) -> bool:
    await stream.send_all(_answer(OK_SEND))
    return True


def _client(port: int, **timeouts: float) -> GraphClient:
    return GraphClient(
        f"http://127.0.0.1:{port}",
        "21.0",
        token_for=lambda owner: f"tok-{owner}",
        timeouts=GraphTimeouts(**timeouts),
    )


async def test_sends_share_one_kept_alive_connection() -> None:
    async with _server(_ok) as (port, seen), _client(port) as client:
        for _ in range(3):
            assert isinstance(await client.send_text("1", "55", "oi"), Accepted)
        assert client._h1 is not None
        assert client._h1.opened == 1
    req = seen[0]
    assert req["method"] == "POST"
    assert req["target"] == "/v21.0/1/messages"
    assert req["headers"]["authorization"] == "Bearer tok-1"
    assert req["headers"]["host"] == f"127.0.0.1:{port}"
    assert json.loads(req["body"])["text"]["body"] == "oi"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            _answer(b"", extra="Transfer-Encoding: chunked\r\n")
            + b"10\r\n"
            + OK_SEND[:16]
            + b"\r\n"
            + f"{len(OK_SEND) - 16:x}".encode()
            + b"\r\n"
            + OK_SEND[16:]
            + b"\r\n0\r\n\r\n",
            id="chunked",
        ),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\n\r\n" + _answer(OK_SEND), id="after-an-interim-answer"
        ),
    ],
)
async def test_answer_framings(raw: bytes) -> None:
    async def reply(stream: trio.SocketStream, req: dict[str, Any]) -> bool:
        await stream.send_all(raw)
        return True

    async with _server(reply) as (port, _), _client(port) as client:
        assert isinstance(await client.send_text("1", "55", "oi"), Accepted)
        assert isinstance(await client.send_text("1", "55", "oi"), Accepted)
        assert client._h1 is not None
        assert client._h1.opened == 1


async def test_an_answer_to_the_end_of_the_connection_and_connection_close() -> None:
    async def reply(stream: trio.SocketStream, req: dict[str, Any]) -> bool:
        if len(seen) == 1:
            await stream.send_all(b"HTTP/1.0 200 OK\r\n\r\n" + OK_SEND)
        else:
            await stream.send_all(_answer(OK_SEND, extra="Connection: close\r\n"))
        return False

    async with _server(reply) as (port, seen), _client(port) as client:
        for _ in range(3):
            assert isinstance(await client.send_text("1", "55", "oi"), Accepted)
        assert client._h1 is not None
        assert client._h1.opened == 3


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def reply(stream: trio.SocketStream, req: dict[str, Any]) -> bool:
        await stream.send_all(_answer(OK_SEND))
        return False  # keep-alive said, then closed: the next send must not use it

    async with _server(reply) as (port, seen), _client(port) as client:
        assert isinstance(await client.send_text("1", "55", "oi"), Accepted)
        await trio.sleep(0.05)  # the FIN arrives
        assert isinstance(await client.send_text("1", "55", "oi"), Accepted)
        assert len(seen) == 2


async def test_an_expired_idle_connection_is_not_reused() -> None:
    async with _server(_ok) as (port, _):
        pool = H1Pool(f"http://127.0.0.1:{port}", keepalive_s=0.01)
        for _ in range(2):
            status, _body = await pool.post("/x", [("A", "b")], b"{}", connect_s=1.0, timeout_s=1.0)
            assert status == 200
            await trio.sleep(0.05)
        assert pool.opened == 2
        pool.close()


async def test_an_error_answer_is_read_and_the_connection_kept() -> None:
    error = b'{"error":{"message":"bad","code":100,"type":"OAuthException"}}'

    async def reply(stream: trio.SocketStream, req: dict[str, Any]) -> bool:
        await stream.send_all(_answer(error, status="400 Bad Request"))
        return True

    async with _server(reply) as (port, _), _client(port) as client:
        out = await client.send_text("1", "55", "oi")
        assert isinstance(out, Failed)
        assert out.error.code == 100
        assert isinstance(await client.send_text("1", "55", "oi"), Failed)
        assert client._h1 is not None
        assert client._h1.opened == 1


async def test_no_server_means_not_sent() -> None:
    with trio.socket.socket() as probe:  # a port nobody listens on
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with _client(port) as client:
        out = await client.send_text("1", "55", "oi")
    assert isinstance(out, Failed)
    assert not out.error.sent
    assert out.error.transport == "ConnectError"


@pytest.mark.parametrize("how", ["silence", "hang-up", "half-answer"])
async def test_no_complete_answer_is_in_doubt(how: str) -> None:
    async def reply(stream: trio.SocketStream, req: dict[str, Any]) -> bool:
        if how == "silence":
            await trio.sleep(10)
        elif how == "half-answer":
            await stream.send_all(_answer(OK_SEND)[:-10])
        return False

    async with _server(reply) as (port, _), _client(port, send_s=0.2) as client:
        out = await client.send_text("1", "55", "oi")
    assert isinstance(out, InDoubt)
    assert out.error is not None
    assert out.error.sent


async def test_a_pool_refuses_non_http_urls() -> None:
    with pytest.raises(ValueError, match="not an http"):
        H1Pool("ftp://example.com")
    closed = H1Pool("http://127.0.0.1:1")
    closed.close()
    with pytest.raises(httpx.ConnectError):
        await closed.post("/", [], b"", connect_s=1.0, timeout_s=1.0)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (the certificate is its own CA)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_connections_are_verified_and_kept_alive(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    seen: list[dict[str, Any]] = []

    async def handler(tcp: trio.SocketStream) -> None:
        stream = trio.SSLStream(tcp, server_ctx, server_side=True)
        buf = bytearray()
        try:
            while (req := await _read_request(stream, buf)) is not None:
                seen.append(req)
                await stream.send_all(_answer(OK_SEND))
        except trio.BrokenResourceError:
            pass
        finally:
            tcp.socket.close()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        trusted = ssl.create_default_context(cafile=str(cert))
        pool = H1Pool(f"https://127.0.0.1:{port}", ssl_context=trusted)
        for _ in range(3):
            status, body = await pool.post("/v21.0/1/messages", [], b"{}", connect_s=5, timeout_s=5)
            assert (status, body) == (200, OK_SEND)
        assert pool.opened == 1
        pool.close()
        untrusting = H1Pool(f"https://127.0.0.1:{port}", ssl_context=ssl.create_default_context())
        with pytest.raises(httpx.ConnectError):  # an unknown CA: never sent
            await untrusting.post("/", [], b"{}", connect_s=5, timeout_s=5)
        nursery.cancel_scope.cancel()
    assert len(seen) == 3
    assert seen[0]["headers"]["host"] == f"127.0.0.1:{port}"
