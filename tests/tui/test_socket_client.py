"""The real :class:`SocketControlClient` against a small asyncio daemon stand-in.

The stand-in speaks :mod:`daemon.control.protocol` (the same codec the trio server uses),
so these tests pin the wire format from the console's side: request ids, answers,
errors, ``event`` and ``resync`` notifications, long lines, and reconnecting when the
daemon goes away and comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from daemon.control import protocol
from tests.tui.fakes import PNIDS, cells, fleet_snapshot, make_console, wait_until
from tui.client import (
    Backoff,
    CallTimeout,
    ConnectionLost,
    ConnectionStatus,
    ControlEvent,
    LinkState,
    NotConnected,
    RpcError,
    SocketControlClient,
)
from tui.confirm import ConfirmScreen
from tui.screens import EventsScreen
from tui.widgets import FleetTable, StatusLine

pytestmark = pytest.mark.asyncio

FAST = Backoff(initial=0.02, factor=2.0, maximum=0.1)


class StandInDaemon:
    """Answers status.snapshot, subscribe, chip.pause and webhooks.stats; can hang."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.snapshot = fleet_snapshot()
        self.requests: list[protocol.Request] = []
        self.subscribers: list[asyncio.StreamWriter] = []
        self.hang: set[str] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(
            self._serve, self.path, limit=protocol.MAX_LINE
        )

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        self.subscribers.clear()
        await self._server.wait_closed()
        Path(self.path).unlink(missing_ok=True)

    def methods(self) -> list[str]:
        return [r.method for r in self.requests]

    async def push(self, kind: str, data: dict[str, Any]) -> None:
        line = protocol.notification("event", {"kind": kind, "at": 1.0, "data": data})
        for writer in self.subscribers:
            writer.write(line)
            await writer.drain()

    async def burst(self, count: int) -> None:
        """Many events in one write: they reach the client in one read."""
        lines = [
            protocol.notification("event", {"kind": "log", "at": 1.0, "data": {"n": n}})
            for n in range(count)
        ]
        for writer in self.subscribers:
            writer.write(b"".join(lines))
            await writer.drain()

    async def resync(self) -> None:
        for writer in self.subscribers:
            writer.write(protocol.notification("resync", {"reason": "subscriber too slow"}))
            await writer.drain()
            writer.close()
        self.subscribers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        decoder = protocol.LineDecoder()
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                for line in decoder.feed(data):
                    message = protocol.decode(line)
                    assert isinstance(message, protocol.Request)
                    self.requests.append(message)
                    if message.method not in self.hang:
                        writer.write(self._answer(message, writer))
                        await writer.drain()

    def _answer(self, req: protocol.Request, writer: asyncio.StreamWriter) -> bytes:
        assert req.id is not None
        if req.method == "status.snapshot":
            return protocol.result_response(req.id, self.snapshot)
        if req.method == "subscribe":
            self.subscribers.append(writer)
            return protocol.result_response(req.id, {"subscribed": True})
        if req.method == "webhooks.stats":
            return protocol.result_response(req.id, self.snapshot["webhooks"])
        if req.method == "chip.pause":
            pnid = req.params.get("phone_number_id")
            chip = next((c for c in self.snapshot["chips"] if c["phone_number_id"] == pnid), None)
            if chip is None:
                return protocol.error_response(req.id, protocol.REFUSED, f"unknown chip {pnid}")
            chip.update(paused=True, pause_reason=req.params.get("reason"))
            return protocol.result_response(req.id, chip)
        return protocol.error_response(
            req.id, protocol.METHOD_NOT_FOUND, f"unknown method {req.method!r}"
        )


class Recorder:
    def __init__(self) -> None:
        self.statuses: list[ConnectionStatus] = []
        self.snapshots: list[dict[str, Any]] = []
        self.events: list[ControlEvent] = []

    def connection_changed(self, status: ConnectionStatus) -> None:
        self.statuses.append(status)

    def snapshot_received(self, snapshot: dict[str, Any]) -> None:
        self.snapshots.append(snapshot)

    def event_received(self, event: ControlEvent) -> None:
        self.events.append(event)

    def states(self) -> list[LinkState]:
        return [s.state for s in self.statuses]


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.fixture
def socket_path() -> Iterator[str]:
    # A short directory: a Unix socket path must fit in 107 bytes.
    directory = tempfile.mkdtemp(prefix="mtui-", dir="/tmp")
    yield str(Path(directory) / "metad.sock")
    shutil.rmtree(directory, ignore_errors=True)


@pytest_asyncio.fixture
async def daemon(socket_path: str) -> AsyncIterator[StandInDaemon]:
    stand_in = StandInDaemon(socket_path)
    await stand_in.start()
    yield stand_in
    if stand_in._server is not None and stand_in._server.is_serving():
        await stand_in.stop()


@contextlib.asynccontextmanager
async def running(client: SocketControlClient, recorder: Recorder) -> AsyncIterator[None]:
    task = asyncio.create_task(client.run(recorder))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_snapshot_events_calls_and_errors(daemon: StandInDaemon) -> None:
    client, rec = SocketControlClient(daemon.path, backoff=FAST), Recorder()
    async with running(client, rec):
        await until(lambda: len(rec.snapshots) == 1)
        assert daemon.methods() == ["subscribe", "status.snapshot"]
        assert rec.states() == [LinkState.CONNECTING, LinkState.CONNECTED]
        assert rec.snapshots[0]["chips"][0]["phone_number_id"] == PNIDS[0]
        await daemon.push("log", {"level": "info", "logger": "metad", "message": "hi"})
        await until(lambda: len(rec.events) == 1)
        assert rec.events[0] == ControlEvent("log", 1.0, {"level": "info", "logger": "metad",
                                                          "message": "hi"})  # fmt: skip
        chip = await client.call("chip.pause", {"phone_number_id": PNIDS[1], "reason": "x"})
        assert chip["paused"] is True
        with pytest.raises(RpcError) as refused:
            await client.call("chip.pause", {"phone_number_id": "nope", "reason": "x"})
        assert refused.value.code == protocol.REFUSED
        assert str(refused.value) == "unknown chip nope"
        with pytest.raises(RpcError) as missing:
            await client.call("no.such.method")
        assert missing.value.code == protocol.METHOD_NOT_FOUND
        ids = [r.id for r in daemon.requests]
        assert len(set(ids)) == len(ids)  # every request has its own id


async def test_lines_longer_than_asyncio_default_limit_arrive(daemon: StandInDaemon) -> None:
    client, rec = SocketControlClient(daemon.path, backoff=FAST), Recorder()
    async with running(client, rec):
        await until(lambda: len(rec.snapshots) == 1)
        big = "x" * 300_000  # asyncio's default StreamReader limit is 64 KiB
        await daemon.push("log", {"level": "info", "logger": "metad", "message": big})
        await until(lambda: len(rec.events) == 1)
        assert rec.events[0].data["message"] == big


async def test_reconnects_when_the_daemon_restarts(daemon: StandInDaemon) -> None:
    client, rec = SocketControlClient(daemon.path, backoff=FAST), Recorder()
    async with running(client, rec):
        await until(lambda: len(rec.snapshots) == 1)
        daemon.hang.add("webhooks.stats")
        pending = asyncio.create_task(client.call("webhooks.stats"))
        await until(lambda: "webhooks.stats" in daemon.methods())
        await daemon.stop()
        with pytest.raises(ConnectionLost):
            await pending
        await until(lambda: LinkState.DISCONNECTED in rec.states())
        down = next(s for s in rec.statuses if s.state is LinkState.DISCONNECTED)
        assert down.retry_in == FAST.initial
        assert down.error == "the daemon closed the connection"
        await until(lambda: rec.states().count(LinkState.DISCONNECTED) >= 3)
        assert "no daemon socket" in (rec.statuses[-1].error or "")
        with pytest.raises(NotConnected):
            await client.call("status.snapshot")
        daemon.hang.clear()
        daemon.snapshot["chips"].pop()
        await daemon.start()
        await until(lambda: len(rec.snapshots) == 2)
        assert len(rec.snapshots[1]["chips"]) == 4
        assert rec.states()[-1] is LinkState.CONNECTED
        assert daemon.methods()[-2:] == ["subscribe", "status.snapshot"]
        assert (await client.call("webhooks.stats"))["received"] == 1520


async def test_resync_means_a_fresh_snapshot_and_subscription(daemon: StandInDaemon) -> None:
    client, rec = SocketControlClient(daemon.path, backoff=FAST), Recorder()
    async with running(client, rec):
        await until(lambda: len(rec.snapshots) == 1)
        await daemon.resync()
        await until(lambda: len(rec.snapshots) == 2)
        down = next(s for s in rec.statuses if s.state is LinkState.DISCONNECTED)
        assert down.error == "resync: subscriber too slow"
        assert daemon.methods() == ["subscribe", "status.snapshot"] * 2


async def test_reconnect_now_skips_the_wait(socket_path: str) -> None:
    slow = Backoff(initial=30.0, maximum=30.0)
    client, rec = SocketControlClient(socket_path, backoff=slow), Recorder()
    async with running(client, rec):
        await until(lambda: LinkState.DISCONNECTED in rec.states())
        assert rec.statuses[-1].retry_in == 30.0
        stand_in = StandInDaemon(socket_path)
        await stand_in.start()
        try:
            client.reconnect_now()
            await until(lambda: len(rec.snapshots) == 1)
        finally:
            await stand_in.stop()


async def test_the_console_pauses_a_chip_through_the_socket(daemon: StandInDaemon) -> None:
    client = SocketControlClient(daemon.path, backoff=FAST)
    app = make_console(client)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(FleetTable)
        await wait_until(pilot, lambda: table.row_count == 5)
        await pilot.press("down", "p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: cells(table, PNIDS[1])[5] == "PAUSED")
        pause = next(r for r in daemon.requests if r.method == "chip.pause")
        assert pause.params == {"phone_number_id": PNIDS[1], "reason": "operator"}
        await daemon.stop()
        status = app.screen.query_one(StatusLine)
        await wait_until(pilot, lambda: "disconnected — retrying" in str(status.render()))
        await daemon.start()
        await wait_until(pilot, lambda: "● connected" in str(status.render()))


async def test_a_call_times_out_and_the_connection_stays(daemon: StandInDaemon) -> None:
    client, rec = SocketControlClient(daemon.path, backoff=FAST, call_timeout=0.05), Recorder()
    async with running(client, rec):
        await until(lambda: len(rec.snapshots) == 1)
        daemon.hang.add("webhooks.stats")
        with pytest.raises(CallTimeout, match=r"webhooks\.stats: no answer within 0\.05 s"):
            await client.call("webhooks.stats")
        daemon.hang.clear()
        assert (await client.call("webhooks.stats"))["received"] == 1520
        assert rec.states() == [LinkState.CONNECTING, LinkState.CONNECTED]


async def test_a_console_that_falls_behind_resyncs_itself(daemon: StandInDaemon) -> None:
    client, rec = SocketControlClient(daemon.path, backoff=FAST, max_queue=3), Recorder()
    async with running(client, rec):
        await until(lambda: len(rec.snapshots) == 1)
        await daemon.burst(10)
        await until(lambda: len(rec.snapshots) == 2)
        down = next(s for s in rec.statuses if s.state is LinkState.DISCONNECTED)
        assert down.error == "resync: the console fell behind the event stream"


class BoundedRecorder(Recorder):
    """A recorder that stops the client after ``limit`` reports: a client that retried
    without ever yielding would otherwise hang the test (and its event loop) for good."""

    def __init__(self, limit: int = 200) -> None:
        super().__init__()
        self.limit = limit
        self.attempted_at: list[float] = []

    def connection_changed(self, status: ConnectionStatus) -> None:
        super().connection_changed(status)
        if status.state is LinkState.CONNECTING:
            self.attempted_at.append(asyncio.get_running_loop().time())
        if len(self.statuses) > self.limit:
            raise RuntimeError(f"{self.limit} connection reports: the client never waits")

    def waits(self, since: int = 0) -> list[float | None]:
        """retry_in of each DISCONNECTED report from index ``since`` on."""
        return [s.retry_in for s in self.statuses[since:] if s.state is LinkState.DISCONNECTED]


async def test_the_backoff_never_falls_below_its_initial_wait() -> None:
    backoff = Backoff(initial=0.5, factor=2.0, maximum=10.0)
    assert backoff.after(None) == 0.5
    assert backoff.after(0.0) == 0.5  # was 0.0 * 2 = 0 forever
    assert backoff.after(0.5) == 1.0
    assert backoff.after(8.0) == 10.0


async def test_reconnect_now_while_down_retries_once_then_backs_off_again(
    socket_path: str,
) -> None:
    """ctrl+r with no daemon: one attempt at once, then the backoff from its first wait
    (not a zero wait forever), and every attempt lets the loop run."""
    backoff = Backoff(initial=0.05, factor=2.0, maximum=0.4)
    client, rec = SocketControlClient(socket_path, backoff=backoff), BoundedRecorder()
    loop = asyncio.get_running_loop()
    ticks = 0

    async def ticker() -> None:  # counts the loop's turns while the client retries
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    async with running(client, rec):
        await until(lambda: rec.waits() == [0.05, 0.1, 0.2, 0.4])  # in the 0.4 s wait
        mark, first = len(rec.statuses), len(rec.attempted_at)
        counter = asyncio.create_task(ticker())
        asked = loop.time()
        client.reconnect_now()
        await until(lambda: len(rec.waits(mark)) >= 4)
        counter.cancel()
        assert rec.waits(mark)[:4] == [0.05, 0.1, 0.2, 0.4]  # the backoff from its start
        assert ticks > 0
        attempts = rec.attempted_at[first : first + 4]
        assert attempts[0] - asked < 0.2  # at once, not at the end of the 0.4 s wait
        # The waits were kept, not just reported.
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        for gap, wait in zip(gaps, [0.05, 0.1, 0.2], strict=True):
            assert gap >= wait * 0.9, gaps


async def test_repeated_reconnect_now_while_down_keeps_the_console_responsive(
    socket_path: str,
) -> None:
    """The operator's report: ctrl+r with the daemon down froze the console (q did
    nothing, memory grew). Now each press is one attempt, keys still work, and the
    connection reports waiting to be applied stay few."""
    attempts = 0

    class Counting(SocketControlClient):
        async def _session(self, listener: Any) -> None:
            nonlocal attempts
            attempts += 1
            if attempts > 500:
                raise RuntimeError("the client retried without waiting")
            await super()._session(listener)

    client = Counting(socket_path, backoff=Backoff(initial=0.2, factor=2.0, maximum=1.0))
    app = make_console(client)
    waiting: list[int] = []
    put = app.inbox.put

    def counted(item: Any) -> bool:
        waiting.append(len(app.inbox))
        return put(item)

    app.inbox.put = counted  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.screen.query_one(StatusLine)
        await wait_until(pilot, lambda: "retrying in 1s" in str(status.render()))
        for _ in range(3):
            await pilot.press("ctrl+r")
            await pilot.pause(0.05)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen))
        await pilot.pause(0.3)
        assert attempts <= 12, attempts
        assert max(waiting) <= 3
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
