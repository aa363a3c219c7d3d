"""The ``metad ctl`` client's bound: connecting and each answer, never an event stream.

Why: a daemon stopped with SIGSTOP (or stuck) still has its socket, and the kernel
completes a connection on its backlog, so a client without a bound waited for ever. But
``ctl events`` follows a stream in which nothing may happen for hours: once subscribed,
the wait for the next event is no sign of a stuck daemon.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import trio

from daemon.control import protocol as p
from daemon.control.client import ControlError, NoAnswer, NotRunning, connect

Handler = Callable[[trio.SocketStream], Awaitable[None]]


@pytest.fixture
def sock() -> Iterator[Path]:
    """Short: a Unix socket's path must fit in 108 bytes, which pytest's tmp_path may not."""
    path = Path(tempfile.mkdtemp(prefix="ctlc-"))
    yield path / "c.sock"
    shutil.rmtree(path, ignore_errors=True)


async def _serve(path: Path, handler: Handler, *, task_status: trio.TaskStatus[None]) -> None:
    listener = trio.SocketListener(await _bound(path))
    task_status.started()
    await trio.serve_listeners(handler, [listener])


async def _bound(path: Path) -> trio.socket.SocketType:
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen()
    return sock


async def _first_request(stream: trio.SocketStream) -> p.Request:
    """The first request on ``stream``."""
    decoder = p.LineDecoder()
    while True:
        for line in decoder.feed(await stream.receive_some(65536)):
            msg = p.decode(line)
            assert isinstance(msg, p.Request)
            return msg


async def test_a_call_that_gets_no_answer_raises_no_answer(sock: Path) -> None:
    async def silent(stream: trio.SocketStream) -> None:
        await _first_request(stream)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        await nursery.start(partial(_serve, sock, silent))
        with trio.fail_after(5), pytest.raises(NoAnswer) as caught:
            async with connect(sock, timeout=0.2) as client:
                await client.call("status.snapshot")
        nursery.cancel_scope.cancel()
    assert str(caught.value) == f"no answer from the daemon at {sock} within 0.2 s"
    assert isinstance(caught.value, ControlError)  # reported as any failed call is
    assert caught.value.code == p.UNAVAILABLE


async def test_a_socket_never_accepted_on_raises_no_answer(sock: Path) -> None:
    """What a SIGSTOPped daemon's socket is: bound and listening, nobody accepting."""
    listener = await _bound(sock)
    with listener, trio.fail_after(5), pytest.raises(NoAnswer):
        async with connect(sock, timeout=0.2) as client:
            await client.call("status.snapshot")


async def test_events_after_the_subscription_are_waited_for_however_long(sock: Path) -> None:
    async def slow_events(stream: trio.SocketStream) -> None:
        subscribe = await _first_request(stream)
        await stream.send_all(p.result_response(subscribe.id, {"subscribed": True}))
        await trio.sleep(0.5)  # longer than the client's bound
        await stream.send_all(p.notification("event", {"kind": "chip", "n": 1}))
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        await nursery.start(partial(_serve, sock, slow_events))
        with trio.fail_after(5):
            async with connect(sock, timeout=0.1) as client:
                events = client.events()
                assert await anext(events) == {"kind": "chip", "n": 1}
                await events.aclose()  # type: ignore[attr-defined]
        nursery.cancel_scope.cancel()


async def test_a_subscription_that_is_never_answered_raises_no_answer(sock: Path) -> None:
    async def silent(stream: trio.SocketStream) -> None:
        await _first_request(stream)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        await nursery.start(partial(_serve, sock, silent))
        async with connect(sock, timeout=0.2) as client:
            with trio.fail_after(5), pytest.raises(NoAnswer):
                await anext(client.events())
        nursery.cancel_scope.cancel()


async def test_without_a_timeout_nothing_is_bounded(sock: Path) -> None:
    """Other callers (``metad campaign``, ``templates`` sync) keep their own bounds."""

    async def late(stream: trio.SocketStream) -> None:
        request = await _first_request(stream)
        await trio.sleep(0.3)
        await stream.send_all(p.result_response(request.id, "late"))

    async with trio.open_nursery() as nursery:
        await nursery.start(partial(_serve, sock, late))
        async with connect(sock) as client:
            assert await client.call("x") == "late"
        nursery.cancel_scope.cancel()


async def test_nothing_listening_is_not_running(sock: Path) -> None:
    with pytest.raises(NotRunning, match="no metad is listening on"):
        async with connect(sock, timeout=1):
            pass
