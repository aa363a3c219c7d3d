"""The webhook port's front door: binding, the POST path, the relay and the stop."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
import trio

from daemon.webhook.front import bind_listeners, serve_front
from daemon.webhook.server import PortInUse
from tests.unit.daemon.webhook.test_ingest import PATH, FakeInbox, make_app, signed


def test_listeners_share_one_port_resolved_once() -> None:
    sockets = bind_listeners("127.0.0.1:0", 3)
    try:
        ports = {s.getsockname()[1] for s in sockets}
        assert len(ports) == 1
        assert ports != {0}
        assert all(s.get_inheritable() for s in sockets)  # for worker processes
        # Another program on the port is a clear error, not a silent share.
        with socket.socket() as other:
            other.bind(("127.0.0.1", 0))
            other.listen()
            with pytest.raises(PortInUse, match="webhook endpoint"):
                bind_listeners(f"127.0.0.1:{other.getsockname()[1]}", 2)
    finally:
        for s in sockets:
            s.close()
    (mine,) = bind_listeners("127.0.0.1:0", 1, inheritable=False)
    with mine:
        assert not mine.get_inheritable()  # the daemon's own: no child inherits it


async def _upstream(path: Path, seen: list[bytes], *, task_status: trio.TaskStatus[None]) -> None:
    """A stand-in for the daemon's app on its Unix socket: one fixed answer."""
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen()
    listener = trio.SocketListener(sock)

    async def answer(stream: trio.SocketStream) -> None:
        async with stream:
            seen.append(bytes(await stream.receive_some(65536)))
            await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")

    task_status.started()
    await trio.serve_listeners(answer, [listener])


async def test_posts_are_taken_here_the_rest_relayed_and_a_stop_ends_it(tmp_path: Path) -> None:
    inbox = FakeInbox()
    ingest = make_app(inbox)
    observed: list[tuple[int, float]] = []
    seen: list[bytes] = []
    stop = trio.Event()
    upstream = tmp_path / "app.sock"
    async with trio.open_nursery() as nursery:
        await nursery.start(_upstream, upstream, seen)
        base = await nursery.start(
            lambda task_status: serve_front(
                "127.0.0.1:0",
                ingest,
                str(upstream),
                shutdown=stop,
                observe=lambda status, s: observed.append((status, s)),
                task_status=task_status,
            )
        )
        body = b'{"object": "whatsapp_business_account", "entry": []}'
        async with httpx.AsyncClient(base_url=base) as client:
            ok = await client.post(PATH, content=body, headers=dict(signed(body)))
            bad = await client.post(PATH, content=body, headers={"x-hub-signature-256": "no"})
            other = await client.get("/healthz")
        assert (ok.status_code, bad.status_code) == (200, 401)
        assert inbox.bodies == [body]
        assert ingest.counters.by_status == {200: 1, 401: 1}
        assert [status for status, _ in observed] == [200, 401]
        assert (other.status_code, other.text) == (200, "hello")
        assert seen[0].startswith(b"GET /healthz HTTP/1.1\r\n")
        with trio.fail_after(2):  # the front returns once stopped; the test's upstream not
            stop.set()
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1]))):
                        pass
                except ConnectionRefusedError:
                    break
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
