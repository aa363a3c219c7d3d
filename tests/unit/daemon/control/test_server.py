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
