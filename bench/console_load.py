"""The console under load: 1,000 chips and 2,000 chip events/s through the control socket.

Prints, one per line (``name=value``):
  p50_ms, p99_ms, max_ms   event-to-screen latency: from the daemon's publish to the end
                           of the first frame the console renders after its fleet table
                           holds the value; a change never shown counts as ``inf``
  transport_p50/p99_ms     … of which publish → the client hands the event to the app
  app_queue_p50/p99_ms     … of which the app's message queue and handler (table written)
  render_p50/p99_ms        … of which table written → that frame is rendered
  events                   events of the timed window the console showed
  events_arrived           … that reached the console's client
  events_missing           chip changes in the window the console never showed (not
                           sent because the bus had cut it off, or not drawn in time)
  events_per_s             rate the console showed them at (first publish → last shown)
  publish_per_s            rate the daemon published at in the same window
  frames_per_s             frames the console rendered with fleet-table changes in them
  dropped_subscribers      the bus's count of subscribers cut off for being too slow
  console_dropped_in_window        … of which the console, in its window (or warm-up)
  console_subscribed_at_window_end 0 if the console was cut off and had not come back:
                           then send_rate_with_console was measured with nothing to send
  console_resyncs          sessions the console opened after the first (resync/reconnect)
  console_cpu_share        CPU seconds per second the console process used while the
                           daemon published to it (its warm-up second included)
  control_server_crashes   times serve_control died (a subscriber going away must never
                           do that; the bench starts it again to finish its figures)
  send_rate_alone          the daemon's stand-in send loop, sends/s, nobody subscribed:
                           the mean of a window before the subscribers and one after
  send_rate_alone_before/after, send_rate_alone_spread  those two, (after − before)/mean:
                           drift on a shared machine shows here
  send_rate_with_console   the same loop while the console is subscribed at full rate
  send_rate_ratio          with console / alone
  send_rate_with_raw_reader, send_rate_ratio_raw_reader  the same with the cheapest
                           possible subscriber (a thread here that reads and discards):
                           the daemon's own cost of serving a subscription, without a
                           busy console process competing for the machine's cores
  send_per_cpu_s_alone, send_per_cpu_s_ratio, send_per_cpu_s_ratio_raw_reader  sends per
                           CPU second of the daemon's trio thread, and with/alone: the
                           subscriber's cost to the daemon with other load on the machine
                           (other processes, the console itself) factored out
  daemon_cpu_share         CPU seconds per second the trio thread got in the windows:
                           alone/raw reader/console/alone (below 1.00: it was not
                           scheduled all the time, so the machine was contended)
Goal (issue M8): p99_ms <= 250, and the send rate not reduced by the subscriber.

Three processes, so that nothing shares an event loop that does not in production:
  * the daemon side (trio): the real :func:`daemon.control.server.serve_control` on a
    Unix socket, the real :class:`daemon.bus.Bus` and protocol, and a synthetic
    :class:`~daemon.control.methods.ControlContext` (a fleet whose ``snapshot()`` builds
    1,000 real ``ChipSnapshot``/``ChipRecord`` values, a store whose ``inbox.stats()``
    answers counters). A publisher changes ``queued`` of a random chip 2,000 times a
    second (paced every millisecond) and, like ``publish_forever``, builds and publishes
    the chip (``chip_dict``) only while someone is subscribed; ``data["bench_ts"]`` is
    ``time.monotonic()`` at publish (CLOCK_MONOTONIC is system-wide on Linux, so the
    console process can subtract it). ``queued`` is a global sequence number, so every
    event changes its row and names itself. A send loop stands in for the daemon's
    sending: per send it JSON-encodes a Cloud API text message and passes a trio
    checkpoint, flat out; its rate is what a subscriber must not reduce.
  * the console (asyncio): the real :class:`tui.app.MetadConsole` with the real
    :class:`tui.client.SocketControlClient`, headless (``App.run_test``, 200x60), default
    options (sorted by number, webhook poll every 5 s).
  * this process: sequences the windows over the children's stdin/stdout, runs the raw
    reader, prints the figures. The windows: alone; raw reader; console; alone again.
    The daemon publishes only inside a subscriber's window (plus 1 s of warm-up) and is
    quiet in between, so each subscriber can drain and leave without losing data; the
    console subscribes and draws the fleet while it is quiet.

How the console is observed (nothing in ``tui`` is changed; the probe only appends to
lists on the console's loop, and the latencies are worked out afterwards): the client's
listener is wrapped (a subclass's ``run`` passes a proxy that notes ``bench_ts`` and the
arrival time, then forwards); the fleet table's ``update_chips`` is wrapped on that one
instance (after the write it notes which event each row now shows, which covers older
events of that chip should a console coalesce, and whether the row was in view); and the
fleet screen's compositor refresh (the render of a frame) and the table's ``render_lines``
are wrapped: an event is "on screen" at the end of the first render that began after its
write and drew the fleet table (never early: a write waiting for a repaint the screen has
not taken up yet is not counted by a render that leaves the table out). A row out of view
counts as shown at the end of the first render after its write, as scrolling to it shows
the new value. Headless Textual still lays out and renders every frame (the compositor
runs); only writing escape codes to a terminal is skipped. The console's
report is made by a thread, so a console too busy to run its event loop still reports.

Not modelled: ``publish_forever``'s own cost with a real fleet (it asks every chip actor
for a snapshot each second while someone listens) and its pattern (one burst a second,
not a steady stream). The daemon side serves only ``status.snapshot`` and
``webhooks.stats``: the console's budget, campaign and template calls get "method not
found" (its screens then say "not available"), as the stand-in fleet has none of them.

``METAD_BENCH_PROFILE_CONSOLE=FILE`` writes a cProfile of the console process to FILE;
``METAD_BENCH_TRACE=FILE`` writes each event of the window (seq, published, arrived,
written, shown: monotonic seconds) as CSV, to see when the slow ones happened.

Usage: ``python bench/console_load.py [--chips 1000] [--rate 2000] [--seconds 10]
[--alone-seconds 5] [--drain-seconds 5]``. Runs in about 40 s.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import math
import os
import queue
import socket as stdsocket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO, cast

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MARK = "BENCH "
"""Prefix of the JSON lines the two children report on stdout."""


def _emit(out: TextIO, **doc: Any) -> None:
    out.write(MARK + json.dumps(doc) + "\n")
    out.flush()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


# --- the daemon side (trio) ------------------------------------------------------------


def daemon_main(args: argparse.Namespace) -> None:
    import trio

    from actors.chip import ChipSnapshot
    from actors.ports import ChipRecord, WabaRecord
    from actors.waba import WabaSnapshot
    from actors.waba.killswitch import KillSwitch
    from daemon.bus import Bus
    from daemon.control.methods import METHODS, ControlContext, chip_dict
    from daemon.control.server import serve_control
    from daemon.fleet import FleetSnapshot
    from daemon.store.inbox import InboxStats

    out = sys.stdout
    n, wabas = args.chips, max(1, args.chips // 100)
    qualities = ["GREEN"] * 8 + ["YELLOW", "RED"]

    class BenchFleet:
        """What ``status.snapshot`` needs of :class:`daemon.fleet.Fleet`."""

        def __init__(self) -> None:
            self.records = [
                ChipRecord(
                    phone_number_id=f"{300000000000000 + i}",
                    waba_id=f"{100000000000000 + i % wabas}",
                    display_number=f"+55 11 9{i // 10000 % 10}{i % 10000:04d}-{i * 7 % 10000:04d}",
                    quality_rating=qualities[i % len(qualities)],
                    messaging_limit_tier="TIER_10K",
                )
                for i in range(n)
            ]
            self.queued = [0] * n
            self.accepted = [0] * n

        def chip(self, i: int) -> ChipSnapshot:
            return ChipSnapshot(
                record=self.records[i],
                restarts=0,
                mode="FULL",
                policy="full rate",
                open_windows=i % 40,
                queued=self.queued[i],
                in_flight=0,
                mps=80.0,
                tier_used=self.accepted[i],
                tier_limit=10_000,
                draining=False,
                accepted=self.accepted[i],
            )

        async def snapshot(self, timeout: float = 2.0) -> FleetSnapshot:
            await trio.lowlevel.checkpoint()
            waba_snaps = tuple(
                WabaSnapshot(
                    record=WabaRecord(waba_id=f"{100000000000000 + w}", name=f"bench {w}"),
                    chips=tuple(r.phone_number_id for r in self.records[w::wabas]),
                    switch=KillSwitch(),
                )
                for w in range(wabas)
            )
            return FleetSnapshot(waba_snaps, tuple(self.chip(i) for i in range(n)))

    class BenchInbox:
        async def stats(self) -> InboxStats:
            await trio.lowlevel.checkpoint()
            return InboxStats(
                received=1520,
                duplicates=7,
                parsed=1509,
                unparsed=4,
                pending=0,
                unknown_number=2,
                rejected_signature=1,
            )

    class BenchStore:
        inbox = BenchInbox()

    fleet = BenchFleet()
    bus = Bus()
    # The stand-ins serve what the fleet screen needs; the console's other calls (budget,
    # campaigns, templates) get "method not found", as from an older daemon.
    served = ("status.snapshot", "webhooks.stats")
    for name in [n for n in METHODS if n not in served]:
        del METHODS[name]  # the server looks names up in this same dict
    # Stand-ins, duck-typed: the methods touch only fleet.snapshot and store.inbox.stats
    # (today's figures are never due: they are counted from the store, and there is none).
    ctx = ControlContext(
        cfg=cast(Any, None),
        fleet=cast(Any, fleet),
        store=cast(Any, BenchStore()),
        bus=bus,
        daily_due=math.inf,
    )
    counts = {"sends": 0, "seq": 0, "published": 0, "server_crashes": 0, "publishing": 0}

    async def send_loop() -> None:
        """A fixed CPU-light unit per send: encode one Cloud API text message."""
        while True:
            k = counts["sends"]
            body = {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": f"5511{k % 100_000_000:08d}",
                "type": "text",
                "text": {"preview_url": False, "body": f"Your order {k} is on its way."},
            }
            json.dumps(body, separators=(",", ":")).encode()
            counts["sends"] = k + 1
            await trio.sleep(0)

    async def publisher() -> None:
        import random

        rng = random.Random(1)
        start, done = time.monotonic(), 0
        while True:
            await trio.sleep(0.001)
            due = int((time.monotonic() - start) * args.rate)
            while done < due:
                done += 1
                counts["seq"] += 1
                i = rng.randrange(n)
                fleet.queued[i] = counts["seq"]
                fleet.accepted[i] += 1
                # As publish_forever, events are built only for a listener; and the bench
                # goes quiet between windows, so a subscriber can leave without losing data.
                if counts["publishing"] and bus.subscribers:
                    data = chip_dict(fleet.chip(i))
                    data["bench_ts"] = time.monotonic()
                    bus.publish("chip", data)
                    counts["published"] += 1

    async def measure(seconds: float) -> dict[str, float]:
        """Sends per second and per CPU second of the trio thread, events published/s."""
        s0, p0, t0, c0 = counts["sends"], counts["published"], time.monotonic(), time.thread_time()
        await trio.sleep(seconds)
        elapsed, cpu = time.monotonic() - t0, time.thread_time() - c0
        return {
            "rate": (counts["sends"] - s0) / elapsed,
            "per_cpu_s": (counts["sends"] - s0) / cpu,
            "cpu_share": cpu / elapsed,
            "published_per_s": (counts["published"] - p0) / elapsed,
        }

    async def command() -> str:
        line: str = await trio.to_thread.run_sync(sys.stdin.readline)
        if not line:
            raise SystemExit("the orchestrator went away")
        return line.strip()

    async def control_server(task_status: trio.TaskStatus[Path]) -> None:
        """The real server, started again should it die (counted: see the report)."""
        while True:
            try:
                await serve_control(ctx, Path(args.socket), task_status=task_status)
            except* (trio.BrokenResourceError, trio.ClosedResourceError):
                counts["server_crashes"] += 1
                task_status = trio.TASK_STATUS_IGNORED

    async def subscribed_window(name: str, seconds: float) -> None:
        """Publish to whoever has subscribed, measure, then go quiet so it can drain."""
        with trio.move_on_after(10):
            while not bus.subscribers:
                await trio.sleep(0.05)
        dropped0 = bus.dropped_subscribers
        counts["publishing"] = 1
        await trio.sleep(1.0)  # warm up
        first = counts["seq"] + 1
        figures = await measure(seconds)
        counts["publishing"] = 0
        _emit(
            out,
            event=name,
            **figures,
            seq_first=first,
            seq_last=counts["seq"],
            subscribers=bus.subscribers,
            dropped=bus.dropped_subscribers - dropped0,
        )

    async def alone_window(name: str) -> None:
        with trio.move_on_after(5):
            while bus.subscribers:
                await trio.sleep(0.05)
        await trio.sleep(0.5)
        figures = await measure(args.alone_seconds)
        _emit(
            out,
            event=name,
            **figures,
            subscribers=bus.subscribers,
            dropped_total=bus.dropped_subscribers,
            server_crashes=counts["server_crashes"],
        )

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(control_server)
            nursery.start_soon(send_loop)
            nursery.start_soon(publisher)
            _emit(out, event="ready")
            await trio.sleep(0.5)  # warm up
            await alone_window("alone")
            await command()  # a raw reader has subscribed
            await subscribed_window("reader", args.alone_seconds)
            await command()  # … and gone; the console has subscribed and drawn the fleet
            await subscribed_window("with", args.seconds)
            await command()  # the console has gone
            await alone_window("done")
            nursery.cancel_scope.cancel()

    trio.run(run)


# --- the console side (asyncio, Textual) -----------------------------------------------


def console_main(args: argparse.Namespace) -> None:
    import asyncio

    from textual.geometry import Region
    from textual.strip import Strip

    from tui.app import MetadConsole
    from tui.client import ConnectionStatus, ControlEvent, ControlListener, SocketControlClient
    from tui.model import Chip, Waba
    from tui.widgets import FleetTable

    out = os.fdopen(os.dup(1), "w")  # Textual may take sys.stdout over

    class Probe:
        """Appends only, on the console's loop (a few list appends per event: the probe's
        own cost is console CPU too); :func:`summarise` works the latencies out."""

        def __init__(self) -> None:
            self.arrivals: list[tuple[int, str, float, float]] = []
            """(seq, chip, bench_ts, when the client handed the event to the app)."""
            self.writes: list[tuple[str, int, float, bool]] = []
            """(chip, the event the row now shows, when written, row in view then)."""
            self.frames: list[tuple[float, int, bool]] = []
            """(when a screen render ended, writes made before it began, it drew the table)."""
            self.table_rendered = False
            self.snapshots = 0

        def arrive(self, pnid: str, seq: int, bench_ts: float) -> None:
            self.arrivals.append((seq, pnid, bench_ts, time.monotonic()))

    def summarise(wanted: range) -> dict[str, Any]:
        """Latency per stage; an event never shown counts as infinitely late.

        An event is written when its chip's row is written with it or a later event of
        that chip (a console may coalesce); it is on screen at the end of the first render
        that began after that write and drew the fleet table (a row out of view: the end
        of the first render after the write, as scrolling to it shows the new value).
        Runs on the control thread: the lists are copied first (a copy holds the GIL).
        """
        arrivals, writes = probe.arrivals.copy(), probe.writes.copy()
        frames = probe.frames.copy()
        arrived_at = {seq: (ts, at) for seq, _, ts, at in arrivals}
        waiting: dict[str, collections.deque[int]] = {}
        for seq, pnid, _, _ in arrivals:
            waiting.setdefault(pnid, collections.deque()).append(seq)
        # For each frame, the next one (itself included) that drew the table.
        next_drawn: list[int | None] = [None] * len(frames)
        following: int | None = None
        for j in range(len(frames) - 1, -1, -1):
            if frames[j][2]:
                following = j
            next_drawn[j] = following
        begun = [n for _, n, _ in frames]
        applied_at: dict[int, float] = {}
        framed_at: dict[int, float] = {}
        for i, (pnid, seq, when, in_view) in enumerate(writes):
            queue = waiting.get(pnid)
            covered: list[int] = []
            while queue and queue[0] <= seq:
                covered.append(queue.popleft())
            j: int | None = bisect.bisect_right(begun, i)  # first render begun after it
            if j is not None and in_view:
                j = next_drawn[j] if j < len(frames) else None
            for s in covered:
                applied_at[s] = when
                if j is not None and j < len(frames):
                    framed_at[s] = frames[j][0]
        arrived = [s for s in wanted if s in arrived_at]
        applied = [s for s in arrived if s in applied_at]
        shown = [s for s in applied if s in framed_at]
        total = [(framed_at[s] - arrived_at[s][0]) * 1000 for s in shown]
        total += [float("inf")] * (len(wanted) - len(shown))
        stages = {
            "transport": [(arrived_at[s][1] - arrived_at[s][0]) * 1000 for s in arrived],
            "app_queue": [(applied_at[s] - arrived_at[s][1]) * 1000 for s in applied],
            "render": [(framed_at[s] - applied_at[s]) * 1000 for s in shown],
        }
        start = arrived_at[shown[0]][0] if shown else 0.0
        end = max((framed_at[s] for s in shown), default=0.0)
        span = end - start
        drawn = sum(1 for t, _, table in frames if table and start <= t <= end)
        doc: dict[str, Any] = {
            "events": len(shown),
            "arrived": len(arrived),
            "missing": len(wanted) - len(shown),
            "last_shown": wanted[-1] in framed_at if wanted else True,
            "events_per_s": len(shown) / span if span > 0 else 0.0,
            "frames_per_s": drawn / span if span > 0 else 0.0,
            "p50_ms": _percentile(total, 50),
            "p99_ms": _percentile(total, 99),
            "max_ms": max(total, default=float("nan")),
            "snapshots": probe.snapshots,
        }
        for name, values in stages.items():
            doc[f"{name}_p50_ms"] = _percentile(values, 50)
            doc[f"{name}_p99_ms"] = _percentile(values, 99)
        trace = os.environ.get("METAD_BENCH_TRACE")
        if trace and doc["last_shown"]:
            with open(trace, "w") as f:
                f.write("seq,published,arrived,written,shown\n")
                for s in shown:
                    ts, at = arrived_at[s]
                    f.write(f"{s},{ts:.6f},{at:.6f},{applied_at[s]:.6f},{framed_at[s]:.6f}\n")
        return doc

    probe = Probe()

    class ProbeListener:
        def __init__(self, inner: ControlListener) -> None:
            self._inner = inner

        def connection_changed(self, status: ConnectionStatus) -> None:
            self._inner.connection_changed(status)

        def snapshot_received(self, snapshot: dict[str, Any]) -> None:
            probe.snapshots += 1
            self._inner.snapshot_received(snapshot)

        def event_received(self, event: ControlEvent) -> None:
            ts, seq = event.data.get("bench_ts"), event.data.get("queued")
            pnid = event.data.get("phone_number_id")
            if isinstance(ts, float) and isinstance(seq, int) and isinstance(pnid, str):
                probe.arrive(pnid, seq, ts)
            self._inner.event_received(event)

    class ProbedClient(SocketControlClient):
        async def run(self, listener: ControlListener) -> None:
            await super().run(ProbeListener(listener))

    def control(loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> None:
        """Waits for ``stop FIRST LAST`` and reports, on a thread: a console too busy to
        run its loop (the figure this bench exists to catch) still gets its result out."""
        try:
            line = sys.stdin.readline().split()
            if len(line) == 3:
                first, last = int(line[1]), int(line[2])
                deadline = time.monotonic() + args.drain_seconds
                result = summarise(range(first, last + 1))
                while not result["last_shown"] and time.monotonic() < deadline:
                    time.sleep(0.2)
                    result = summarise(range(first, last + 1))
                _emit(out, event="result", **result)
        finally:
            loop.call_soon_threadsafe(done.set)

    async def run() -> None:
        app = MetadConsole(ProbedClient(args.socket), freeze_gc=True)  # as `metad tui`
        async with app.run_test(size=(200, 60)):
            deadline = time.monotonic() + 30
            while not (
                app.screen.query(FleetTable)
                and app.screen.query_one(FleetTable).row_count == args.chips
            ):
                if time.monotonic() > deadline:
                    raise SystemExit("the console did not show the fleet within 30 s")
                await asyncio.sleep(0.05)
            screen, table = app.screen, app.screen.query_one(FleetTable)
            write_rows, render_lines = table.update_chips, table.render_lines
            compositor_refresh = screen._compositor_refresh
            header = table.header_height if table.show_header else 0

            def update_chips(chips: Iterable[tuple[Chip, Waba | None]]) -> None:
                batch = list(chips)
                write_rows(batch)
                now, top = time.monotonic(), table.scroll_offset.y
                bottom = top + table.size.height - header  # rows are one line high
                for chip, _ in batch:
                    index = table.get_row_index(chip.phone_number_id)
                    probe.writes.append(
                        (chip.phone_number_id, chip.queued, now, top <= index < bottom)
                    )

            def drawn(crop: Region) -> list[Strip]:
                probe.table_rendered = True
                return render_lines(crop)

            def refreshed() -> None:
                begun, probe.table_rendered = len(probe.writes), False
                compositor_refresh()
                probe.frames.append((time.monotonic(), begun, probe.table_rendered))

            table.update_chips = update_chips  # type: ignore[method-assign]
            table.render_lines = drawn  # type: ignore[method-assign]
            screen._compositor_refresh = refreshed  # type: ignore[method-assign]
            await asyncio.sleep(0.2)
            done = asyncio.Event()
            loop = asyncio.get_running_loop()
            threading.Thread(target=control, args=(loop, done), daemon=True).start()
            _emit(out, event="ready", rows=table.row_count)
            await done.wait()

    profile = os.environ.get("METAD_BENCH_PROFILE_CONSOLE")
    if not profile:
        asyncio.run(run())
        return
    import cProfile

    with cProfile.Profile() as prof:
        asyncio.run(run())
    prof.dump_stats(profile)


# --- this process: sequence the two and report ------------------------------------------


class Child:
    """A child process whose ``BENCH`` lines are read on a thread (``expect`` can time out)."""

    def __init__(self, role: str, args: argparse.Namespace, socket: str) -> None:
        argv = [sys.executable, str(Path(__file__).resolve()), "--role", role, "--socket", socket]
        argv += ["--chips", str(args.chips), "--rate", str(args.rate)]
        argv += ["--seconds", str(args.seconds), "--alone-seconds", str(args.alone_seconds)]
        argv += ["--drain-seconds", str(args.drain_seconds)]
        self.role = role
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
        )
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(MARK):
                self._lines.put(json.loads(line[len(MARK) :]))
        self._lines.put(None)

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        try:
            doc = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise SystemExit(f"{self.role}: no {event!r} within {timeout:g} s") from None
        if doc is None:
            raise SystemExit(f"{self.role} exited ({self.proc.wait()}) before {event!r}")
        if doc.get("event") != event:
            raise SystemExit(f"{self.role}: expected {event!r}, got {doc}")
        return doc

    def tell(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class RawReader(threading.Thread):
    """The cheapest subscriber: reads the stream and throws it away (no parsing)."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        from daemon.control import protocol

        self.sock = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(protocol.request(1, "subscribe"))
        self.sock.settimeout(0.3)
        self.lines = 0
        self._stopping = threading.Event()
        self.start()

    def run(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                if self._stopping.is_set():
                    break  # drained: the daemon has gone quiet
                continue
            if not chunk:
                break
            self.lines += chunk.count(b"\n")

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)
        self.sock.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def orchestrate(args: argparse.Namespace) -> None:
    children: list[Child] = []
    with tempfile.TemporaryDirectory(prefix="metad-bench-") as tmp:
        socket = str(Path(tmp) / "control.sock")
        try:
            daemon = Child("daemon", args, socket)
            children.append(daemon)
            daemon.expect("ready", 30)
            before = daemon.expect("alone", args.alone_seconds + 15)
            reader = RawReader(socket)
            daemon.tell("reader")
            with_reader = daemon.expect("reader", args.alone_seconds + 15)
            reader.stop()
            console = Child("console", args, socket)
            children.append(console)
            console.expect("ready", 45)
            cpu0, wall0 = _cpu_seconds(console.proc.pid), time.monotonic()
            daemon.tell("console")
            with_console = daemon.expect("with", args.seconds + 15)
            console_cpu = (_cpu_seconds(console.proc.pid) - cpu0) / (time.monotonic() - wall0)
            console.tell(f"stop {with_console['seq_first']} {with_console['seq_last']}")
            result = console.expect("result", args.drain_seconds + 30)
            try:
                console.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                print("warning: the console did not exit within 5 s", file=sys.stderr)
                console.stop()
            daemon.tell("alone")
            after = daemon.expect("done", args.alone_seconds + 15)
            daemon.proc.wait(timeout=15)
        finally:
            for child in reversed(children):
                child.stop()
        leftover = Path(socket).exists()
    alone = statistics.fmean([before["rate"], after["rate"]])
    alone_cpu = statistics.fmean([before["per_cpu_s"], after["per_cpu_s"]])
    print(f"p50_ms={result['p50_ms']:.1f}")
    print(f"p99_ms={result['p99_ms']:.1f}")
    print(f"max_ms={result['max_ms']:.1f}")
    print(f"transport_p50_ms={result['transport_p50_ms']:.1f}")
    print(f"transport_p99_ms={result['transport_p99_ms']:.1f}")
    print(f"app_queue_p50_ms={result['app_queue_p50_ms']:.1f}")
    print(f"app_queue_p99_ms={result['app_queue_p99_ms']:.1f}")
    print(f"render_p50_ms={result['render_p50_ms']:.1f}")
    print(f"render_p99_ms={result['render_p99_ms']:.1f}")
    print(f"events={result['events']}")
    print(f"events_arrived={result['arrived']}")
    print(f"events_missing={result['missing']}")
    print(f"events_per_s={result['events_per_s']:.0f}")
    print(f"publish_per_s={with_console['published_per_s']:.0f}")
    print(f"frames_per_s={result['frames_per_s']:.1f}")
    print(f"dropped_subscribers={after['dropped_total']}")
    print(f"console_dropped_in_window={with_console['dropped']}")
    print(f"console_subscribed_at_window_end={with_console['subscribers']}")
    print(f"console_resyncs={max(0, result['snapshots'] - 1)}")
    print(f"console_cpu_share={console_cpu:.2f}")
    print(f"control_server_crashes={after['server_crashes']}")
    print(f"send_rate_alone={alone:.0f}")
    print(f"send_rate_alone_before={before['rate']:.0f}")
    print(f"send_rate_alone_after={after['rate']:.0f}")
    print(f"send_rate_alone_spread={(after['rate'] - before['rate']) / alone:+.3f}")
    print(f"send_rate_with_console={with_console['rate']:.0f}")
    print(f"send_rate_ratio={with_console['rate'] / alone:.3f}")
    print(f"send_rate_with_raw_reader={with_reader['rate']:.0f}")
    print(f"send_rate_ratio_raw_reader={with_reader['rate'] / alone:.3f}")
    print(f"raw_reader_publish_per_s={with_reader['published_per_s']:.0f}")
    print(f"send_per_cpu_s_alone={alone_cpu:.0f}")
    print(f"send_per_cpu_s_ratio={with_console['per_cpu_s'] / alone_cpu:.3f}")
    print(f"send_per_cpu_s_ratio_raw_reader={with_reader['per_cpu_s'] / alone_cpu:.3f}")
    shares = [before, with_reader, with_console, after]
    print("daemon_cpu_share=" + "/".join(f"{w['cpu_share']:.2f}" for w in shares))
    if leftover:
        print("warning: the control socket was left behind", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=2000, help="chip events per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="the timed console window")
    parser.add_argument(
        "--alone-seconds", type=float, default=5.0, help="each window without a subscriber"
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=5.0,
        help="how long the console may take to show the window's last event",
    )
    parser.add_argument("--role", choices=["daemon", "console"], help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "daemon":
        daemon_main(args)
    elif args.role == "console":
        console_main(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
