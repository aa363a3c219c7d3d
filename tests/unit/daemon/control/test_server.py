"""The control server's subscription stream: batched writes and the fell-behind guard.

The real :func:`serve_control` and :class:`Bus` on a socket in a temporary directory; the
context is a stand-in (``subscribe`` touches only the bus).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
import trio

from daemon.bus import Bus, BusEvent
from daemon.control import protocol as p, server
from daemon.control.methods import ControlContext
from daemon.control.server import serve_control


class Served:
    def __init__(self, bus: Bus, path: Path) -> None:
        self.bus = bus
        self.path = path


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    bus = Bus(capacity=8)
    ctx = ControlContext(cfg=cast(Any, None), fleet=cast(Any, None), store=cast(Any, None), bus=bus)
    async with trio.open_nursery() as nursery:
        path = await nursery.start(serve_control, ctx, tmp_path / "c.sock")
        yield Served(bus, path)
        nursery.cancel_scope.cancel()


async def _subscribe(path: Path) -> trio.SocketStream:
    stream = await trio.open_unix_socket(str(path))
    await stream.send_all(p.request(1, "subscribe"))
    return stream


async def _read_all(stream: trio.SocketStream) -> list[bytes]:
    """Every line until the daemon closes."""
    decoder = p.LineDecoder()
    lines: list[bytes] = []
    with trio.fail_after(5):
        while chunk := await stream.receive_some(65536):
            lines += decoder.feed(chunk)
    return lines


async def _until_subscribed(bus: Bus, count: int = 1) -> None:
    with trio.fail_after(5):
        while bus.subscribers < count:
            await trio.sleep(0.01)


async def test_events_that_gather_go_out_in_one_write(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[bytes] = []
    send = server._Connection._send

    async def counted(self: Any, data: bytes) -> None:
        writes.append(data)
        await send(self, data)

    monkeypatch.setattr(server._Connection, "_send", counted)
    stream = await _subscribe(served.path)
    await _until_subscribed(served.bus)
    for n in range(6):  # within capacity: published between two of the server's turns
        served.bus.publish("chip", {"n": n})
    decoder = p.LineDecoder()
    got: list[p.Message] = []
    with trio.fail_after(5):
        while len(got) < 7:
            got += [p.decode(line) for line in decoder.feed(await stream.receive_some(65536))]
    assert isinstance(got[0], p.Response)
    assert got[0].result == {"subscribed": True}
    events = [m.params for m in got[1:] if isinstance(m, p.Notification)]
    assert [e["data"]["n"] for e in events] == list(range(6))
    assert all(e["kind"] == "chip" for e in events)
    assert len(writes) == 2  # the answer to subscribe, then one write for the six
    await stream.aclose()


async def test_a_subscriber_that_falls_behind_is_told_to_resync_and_cut_off(
    served: Served,
) -> None:
    slow = await _subscribe(served.path)
    fast = await _subscribe(served.path)
    await _until_subscribed(served.bus, 2)
    for n in range(20):  # more than the buffer of 8, with no turn for the server between
        served.bus.publish("log", {"n": n})
    assert served.bus.dropped_subscribers == 2  # neither had a turn to read
    for stream in (slow, fast):
        lines = await _read_all(stream)
        messages = [p.decode(line) for line in lines]
        notes = [m for m in messages if isinstance(m, p.Notification)]
        assert notes[-1].method == "resync"
        assert notes[-1].params == {"reason": "subscriber too slow"}
        assert all(m.method == "resync" for m in notes)  # stale events are not sent
        await stream.aclose()
    assert served.bus.subscribers == 0
    # The daemon lives on: a new subscriber gets events again.
    again = await _subscribe(served.path)
    await _until_subscribed(served.bus)
    served.bus.publish("chip", {"n": "after"})
    decoder = p.LineDecoder()
    seen: list[p.Message] = []
    with trio.fail_after(5):
        while not any(isinstance(m, p.Notification) for m in seen):
            seen += [p.decode(line) for line in decoder.feed(await again.receive_some(65536))]
    assert [m.params["data"] for m in seen if isinstance(m, p.Notification)] == [{"n": "after"}]
    await again.aclose()


async def test_a_subscriber_that_reads_nothing_never_holds_up_publish(served: Served) -> None:
    stream = await _subscribe(served.path)
    await _until_subscribed(served.bus)
    with trio.fail_after(2):  # 100,000 publishes never wait on the socket
        for n in range(100_000):
            served.bus.publish("log", {"n": n, "pad": "x" * 100})
            if n % 1000 == 0:
                await trio.sleep(0)
    assert served.bus.dropped_subscribers == 1
    await stream.aclose()


async def test_each_event_is_encoded_once_for_all_its_subscribers(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[str] = []
    notification = p.notification

    def counted(method: str, params: dict[str, Any]) -> bytes:
        encoded.append(method)
        return notification(method, params)

    monkeypatch.setattr(p, "notification", counted)
    streams = [await _subscribe(served.path) for _ in range(3)]
    await _until_subscribed(served.bus, 3)
    for n in range(5):
        served.bus.publish("chip", {"n": n})
    received: list[list[bytes]] = []
    for stream in streams:
        decoder, lines = p.LineDecoder(), []
        with trio.fail_after(5):
            while len(lines) < 6:  # the answer to subscribe, then the five events
                lines += decoder.feed(await stream.receive_some(65536))
        received.append(lines[1:])
        await stream.aclose()
    assert received[0] == received[1] == received[2]  # the same bytes for everyone
    assert [p.decode(line).params["data"]["n"] for line in received[0]] == list(range(5))  # type: ignore[union-attr]
    assert encoded == ["event"] * 5  # once per event, not once per subscriber


def test_encoded_lines_are_shared_by_identity_and_bounded() -> None:
    lines = server.EventLines(kept=2)
    first, second, third = (BusEvent("chip", {"n": n}, at=1.0) for n in range(3))
    assert lines.line(first) is lines.line(first)
    equal = BusEvent("chip", {"n": 0}, at=1.0)  # equal, but another event: encoded anew
    assert lines.line(equal) == lines.line(first)
    assert lines.encoded == 2
    lines.line(second)
    lines.line(third)  # the oldest kept lines make room
    assert lines.encoded == 4
    lines.line(first)
    assert lines.encoded == 5


# --- calls that wait on a store that does not answer ------------------------------------


class Store:
    """The daemon's store probe, as the server sees it: why the store hangs, or None."""

    def __init__(self) -> None:
        self.hangs: str | None = None
        self.asked = 0

    async def check(self) -> str | None:
        self.asked += 1
        return self.hangs


@pytest.fixture
async def checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Path, Store, trio.Event]]:
    """A server whose calls can be told the store hangs, with a method ``test.wait``
    that returns once ``release`` is set and a method ``test.down`` whose actor is gone."""
    store, release = Store(), trio.Event()

    async def wait(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {"done": params.get("n")}

    async def down(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        raise server.MethodError(p.UNAVAILABLE, "actor campaigns crashed while handling the call")

    monkeypatch.setitem(server.METHODS, "test.wait", wait)
    monkeypatch.setitem(server.METHODS, "test.down", down)
    monkeypatch.setattr(server, "STORE_GRACE_S", 0.2)
    ctx = ControlContext(
        cfg=cast(Any, None),
        fleet=cast(Any, None),
        store=cast(Any, None),
        bus=Bus(capacity=8),
        store_check=store.check,
    )
    async with trio.open_nursery() as nursery:
        path = await nursery.start(serve_control, ctx, tmp_path / "c.sock")
        yield path, store, release
        release.set()
        nursery.cancel_scope.cancel()


async def _ask(path: Path, method: str, params: dict[str, Any] | None = None) -> trio.SocketStream:
    """A connection to the server with one request sent on it."""
    stream = await trio.open_unix_socket(str(path))
    await stream.send_all(p.request(1, method, params))
    return stream


async def _answers(stream: trio.SocketStream, count: int, within: float) -> list[p.Response]:
    decoder = p.LineDecoder()
    got: list[p.Response] = []
    with trio.fail_after(within):
        while len(got) < count:
            for line in decoder.feed(await stream.receive_some(65536)):
                message = p.decode(line)
                assert isinstance(message, p.Response)
                got.append(message)
    return got


async def test_a_call_waiting_on_a_silent_store_is_told_so_in_seconds(
    checked: tuple[Path, Store, trio.Event],
) -> None:
    path, store, release = checked
    store.hangs = "store: no answer to SELECT 1 within 2s"
    stream = await _ask(path, "test.wait")
    (answer,) = await _answers(stream, 1, within=2.0)
    assert answer.id == 1
    assert answer.error is not None
    assert answer.error["code"] == p.UNAVAILABLE
    message = answer.error["message"]
    assert message.startswith("storage is not answering (store: no answer to SELECT 1")
    assert "test.wait is still waiting for it" in message
    # The call ends later (the store came back): its answer is not sent a second time,
    # and the connection serves the next call with whole lines.
    store.hangs = None
    release.set()
    await trio.sleep(0.1)
    await stream.send_all(p.request(2, "test.wait", {"n": 2}))
    (next_answer,) = await _answers(stream, 1, within=2.0)
    assert (next_answer.id, next_answer.result) == (2, {"done": 2})
    await stream.aclose()


async def test_a_slow_call_on_a_store_that_answers_gets_its_result(
    checked: tuple[Path, Store, trio.Event],
) -> None:
    path, store, release = checked
    stream = await _ask(path, "test.wait", {"n": 1})
    with trio.move_on_after(1.0):  # five grace periods: asked each time, never told
        await _answers(stream, 1, within=2.0)
        raise AssertionError("answered before the call ended")
    assert store.asked >= 3
    release.set()
    (answer,) = await _answers(stream, 1, within=2.0)
    assert (answer.id, answer.result, answer.error) == (1, {"done": 1}, None)
    await stream.aclose()


async def test_an_unavailable_actor_names_the_silent_store_when_it_is_the_cause(
    checked: tuple[Path, Store, trio.Event],
) -> None:
    path, store, _ = checked
    stream = await _ask(path, "test.down")
    (alone,) = await _answers(stream, 1, within=2.0)
    assert alone.error is not None
    assert alone.error["message"] == "actor campaigns crashed while handling the call"
    store.hangs = "store: no answer to SELECT 1 within 2s"
    await stream.send_all(p.request(2, "test.down"))
    (hinted,) = await _answers(stream, 1, within=2.0)
    assert hinted.error is not None
    assert hinted.error["message"] == (
        "actor campaigns crashed while handling the call"
        " (storage is not answering: store: no answer to SELECT 1 within 2s)"
    )
    await stream.aclose()
