"""The operations listener when the store stops answering (a blackhole: PostgreSQL
silent, the connection left open): /readyz and /metrics answer within their budget and
recover once the store answers again; a store call that hangs is never asked twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from prometheus_client.parser import text_string_to_metric_families

from actors.chip import ChipSnapshot
from actors.core import CallTimeout, Mailbox, open_mailbox
from actors.ports import ChipRecord
from daemon.bus import Bus
from daemon.health import (
    FIGURES_MAX_AGE_S,
    FIGURES_WAIT_S,
    SNAPSHOT_TIMEOUT_S,
    STORE_TIMEOUT_S,
    StoreWatch,
    create_ops_app,
    readiness,
    serve_ops,
)
from daemon.metrics import Metrics
from daemon.store.writer import WriterStats
from daemon.webhook.ingest import IngestCounters
from daemon.webhook.processor import ProcessorStats

IN_DOUBT_SQL = "SELECT count(*) FROM outbox WHERE state = 'in_doubt'"
NO_ANSWER = f"store: no answer to SELECT 1 within {STORE_TIMEOUT_S:g}s"


class SilentStore:
    """A store whose calls wait until :meth:`answer`; like the bridge (which waits until
    asyncpg has finished), a cancel cannot cut a call short."""

    def __init__(self, *, answering: bool = True, bounded: bool = False) -> None:
        self.bounded = bounded
        """Whether ``fetchval_within`` keeps its bound (the real store's does); without
        it, it hangs like any other call: the listener must cope with that too."""
        self.gate = trio.Event()
        if answering:
            self.gate.set()
        self.error: Exception | None = None
        self.asked: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()
        self.writer = SimpleNamespace(stats=WriterStats(rows=0, transactions=0, failed_rows=0))

    def answer(self) -> None:
        self.gate.set()

    def fall_silent(self) -> None:
        self.gate = trio.Event()

    async def fetchval(self, sql: str, *args: object) -> Any:
        gate = self.gate
        self.asked[sql] += 1
        self.in_flight[sql] += 1
        self.most_in_flight[sql] = max(self.most_in_flight[sql], self.in_flight[sql])
        try:
            with trio.CancelScope(shield=not self.bounded):
                await gate.wait()
        finally:
            self.in_flight[sql] -= 1
        if self.error is not None:
            raise self.error
        return 1 if sql == "SELECT 1" else 3

    async def fetchval_within(self, sql: str, *args: object, timeout: float) -> Any:
        if not self.bounded:
            return await self.fetchval(sql, *args)
        with trio.move_on_after(timeout):
            return await self.fetchval(sql, *args)
        raise TimeoutError


class Coordinator:
    """The campaign coordinator: it reads the store for each list, and a call gives up
    after its timeout (the real one would still be waiting on the store)."""

    def __init__(self, store: SilentStore) -> None:
        self.store = store

    async def call(self, build: Callable[[Any], Any], *, timeout: float) -> Any:
        with trio.move_on_after(timeout):
            await self.store.gate.wait()
            return [{"id": "shifts", "state": "running", "pending": 4, "in_doubt": 1}]
        raise CallTimeout("campaigns", timeout)


class Answering:
    """An actor that answers at once (chips and the budget keep their figures)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    async def call(self, build: Callable[[Any], Any], *, timeout: float) -> Any:
        return self.answer

    def statistics(self) -> Any:
        return SimpleNamespace(current_buffer_used=0)


def chip_snapshot(pnid: str) -> ChipSnapshot:
    record = ChipRecord(phone_number_id=pnid, waba_id="1001", display_number="+55")
    return ChipSnapshot(
        record=record,
        restarts=0,
        mode="FULL",
        policy="",
        open_windows=3,
        queued=2,
        in_flight=1,
        mps=40.0,
        tier_used=10,
        tier_limit=250,
        draining=False,
    )


def fake_daemon(store: SilentStore, *, chip: Any = None, budget: Any = None) -> Any:
    chip = chip or Answering(chip_snapshot("1"))
    budget = budget or Answering({"day": {"spent": "1.5", "reserved": "0", "cap": "50"}})
    return SimpleNamespace(
        stop=trio.Event(),
        supervisor=SimpleNamespace(down=[], child_ids=["budget"], restarts=lambda cid: 0),
        ingest_workers=None,
        store=store,
        fleet=SimpleNamespace(chip_ids=["1"], chip=lambda pnid: chip, budget=budget),
        campaigns=Coordinator(store),
        processor=SimpleNamespace(stats=ProcessorStats(rows=7)),
        webhook=SimpleNamespace(counters=IngestCounters(stored=5)),
        bus=Bus(),
        reloader=None,
    )


Get = Callable[[str], Any]


@asynccontextmanager
async def ops_app(store: SilentStore) -> AsyncIterator[Get]:
    """``get(path)``: (status, body) from the listener's ASGI app, called directly."""
    daemon = fake_daemon(store)
    async with trio.open_nursery() as nursery:
        app = create_ops_app(daemon, Metrics(), StoreWatch.start(daemon, nursery))

        async def get(path: str) -> tuple[int, str]:
            sent: list[dict[str, Any]] = []

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            await app({"type": "http", "path": path, "method": "GET"}, None, send)
            return sent[0]["status"], sent[1]["body"].decode()

        try:
            yield get
        finally:
            store.answer()  # the listener's tasks end once their calls return
            nursery.cancel_scope.cancel()


async def timed(get: Get, path: str) -> tuple[int, str, float]:
    started = trio.current_time()
    status, body = await get(path)
    return status, body, trio.current_time() - started


def samples(text: str) -> dict[str, float]:
    """Each sample by name and labels, e.g. ``metad_chip_queued{chip=1}``."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            found[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return found


def own_gauges_are_there(shown: dict[str, float]) -> None:
    """What the daemon keeps itself, whatever the store does."""
    assert shown["metad_chip_queued{chip=1}"] == 2
    assert shown["metad_budget_spent_usd{period=day}"] == 1.5
    assert shown["metad_actor_up{actor=budget}"] == 1
    assert shown["metad_webhook_stored_total"] == 5
    assert shown["metad_bus_subscribers"] == 0
    assert "process_start_time_seconds" in shown


async def test_readyz_is_503_within_2s_while_select_1_hangs_and_200_once_it_answers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = SilentStore(answering=False)
    async with ops_app(store) as get:
        status, body, took = await timed(get, "/readyz")
        assert status == 503
        assert took == pytest.approx(STORE_TIMEOUT_S)
        assert '"reasons": ["' + NO_ANSWER + '"]' in body
        # The probe still in flight is older than 2 s: later requests answer at once.
        for _ in range(5):
            await trio.sleep(10)
            status, body, took = await timed(get, "/readyz")
            assert (status, took) == (503, 0)
            assert NO_ANSWER in body
        assert store.most_in_flight["SELECT 1"] == 1  # one probe, not one per request
        assert (await get("/healthz"))[0] == 200

        store.answer()
        await trio.testing.wait_all_tasks_blocked()
        status, body, took = await timed(get, "/readyz")
        assert (status, took) == (200, 0)
        assert body == '{"ready": true, "reasons": []}\n'


async def test_a_probe_that_gave_up_is_over_and_the_next_readyz_asks_afresh(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The store's own bound on the probe's ``SELECT 1``: the probe in flight ended with
    its 503 (it ran for the whole outage, holding a pooled connection, and a store
    that came back was not seen until it ended), and the next request asks again."""
    store = SilentStore(answering=False, bounded=True)
    async with ops_app(store) as get:
        for asked in (1, 2, 3):
            status, body, took = await timed(get, "/readyz")
            assert status == 503
            assert took == pytest.approx(STORE_TIMEOUT_S)
            assert '"reasons": ["' + NO_ANSWER + '"]' in body
            await trio.testing.wait_all_tasks_blocked()
            assert store.in_flight["SELECT 1"] == 0  # over, not still waiting
            assert store.asked["SELECT 1"] == asked
            await trio.sleep(10)

        store.answer()
        status, body, took = await timed(get, "/readyz")
        assert (status, took) == (200, 0)


async def test_a_scrape_waits_2s_at_most_for_an_actor_that_makes_room_late(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A chip and the budget with full mailboxes that free one slot just before the
    2 s: a call's own timeout applied twice (room, then the answer), and the scrape
    waited almost 4 s; the scrape's bound is 2 s in all."""
    chip: Mailbox[Any] = open_mailbox("chip:1", capacity=1)
    budget: Mailbox[Any] = open_mailbox("budget", capacity=1)

    async def busy(mailbox: Mailbox[Any]) -> None:
        """Full; one message taken just before 2 s, none answered."""
        mailbox.address.try_cast("filler")
        await trio.sleep(SNAPSHOT_TIMEOUT_S - 0.1)
        await mailbox.inbox.receive()
        await trio.sleep_forever()

    store = SilentStore()
    daemon = fake_daemon(store, chip=chip.address, budget=budget.address)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(busy, chip)
        nursery.start_soon(busy, budget)
        app = create_ops_app(daemon, Metrics(), StoreWatch.start(daemon, nursery))
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        started = trio.current_time()
        await app({"type": "http", "path": "/metrics", "method": "GET"}, None, send)
        assert trio.current_time() - started == pytest.approx(SNAPSHOT_TIMEOUT_S)
        shown = samples(sent[1]["body"].decode())
        assert "metad_chip_queued{chip=1}" not in shown
        assert "metad_budget_spent_usd{period=day}" not in shown
        nursery.cancel_scope.cancel()


async def test_readyz_waits_for_the_probe_in_flight_up_to_its_2s(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A request that finds a probe in flight waits for it, until the probe is 2 s old."""
    store = SilentStore(answering=False)
    async with ops_app(store) as get, trio.open_nursery() as nursery:
        nursery.start_soon(get, "/readyz")  # starts the probe
        await trio.sleep(1.5)
        status, _, took = await timed(get, "/readyz")
        assert status == 503
        assert took == pytest.approx(0.5)

        store.answer()
        await trio.testing.wait_all_tasks_blocked()
        store.fall_silent()
        nursery.start_soon(get, "/readyz")
        await trio.sleep(1.5)

        async def answer_soon() -> None:
            await trio.sleep(0.3)
            store.answer()

        nursery.start_soon(answer_soon)
        status, _, took = await timed(get, "/readyz")
        assert status == 200
        assert took == pytest.approx(0.3)


async def test_readyz_names_a_store_that_fails(autojump_clock: trio.testing.MockClock) -> None:
    store = SilentStore()
    store.error = ConnectionRefusedError("connection refused")
    async with ops_app(store) as get:
        status, body, took = await timed(get, "/readyz")
        assert (status, took) == (503, 0)
        assert "store: ConnectionRefusedError: connection refused" in body
        shown = samples((await get("/metrics"))[1])
        own_gauges_are_there(shown)
        assert "metad_outbox_in_doubt" not in shown  # left out, as a failing store always was
        assert shown["metad_store_figures_stale"] == 0


async def test_metrics_answer_at_once_with_the_daemons_own_gauges_while_the_store_hangs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = SilentStore(answering=False)
    async with ops_app(store) as get:
        for _ in range(4):
            status, text, took = await timed(get, "/metrics")
            assert status == 200
            assert took < 0.5
            shown = samples(text)
            own_gauges_are_there(shown)
            assert shown["metad_store_figures_stale"] == 1  # never read yet
            assert "metad_outbox_in_doubt" not in shown
            assert not any(name.startswith("metad_campaign_") for name in shown)
            await trio.sleep(15)
        assert store.most_in_flight[IN_DOUBT_SQL] == 1  # one read, not one per scrape

        store.answer()
        await trio.testing.wait_all_tasks_blocked()
        status, text, took = await timed(get, "/metrics")
        assert took == 0
        shown = samples(text)
        assert shown["metad_store_figures_stale"] == 0
        assert shown["metad_store_figures_age_seconds"] == 0
        assert shown["metad_outbox_in_doubt"] == 3
        assert shown["metad_campaign_messages{campaign=shifts,state=pending}"] == 4
        own_gauges_are_there(shown)


async def test_store_figures_are_shown_from_the_last_read_until_a_minute_old(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = SilentStore()
    async with ops_app(store) as get:
        shown = samples((await get("/metrics"))[1])
        assert shown["metad_outbox_in_doubt"] == 3
        assert shown["metad_store_figures_stale"] == 0

        store.fall_silent()
        started = trio.current_time()
        await trio.sleep(30)
        status, text, took = await timed(get, "/metrics")
        assert (status, took) == (200, FIGURES_WAIT_S)  # waited for a read, briefly
        shown = samples(text)
        assert shown["metad_outbox_in_doubt"] == 3  # the last read's
        assert shown["metad_campaign_state{campaign=shifts,state=running}"] == 1
        assert shown["metad_store_figures_age_seconds"] == pytest.approx(30 + FIGURES_WAIT_S)
        assert shown["metad_store_figures_stale"] == 0

        await trio.sleep(started + FIGURES_MAX_AGE_S + 1 - trio.current_time())
        status, text, took = await timed(get, "/metrics")
        assert (status, took) == (200, 0)  # the read in flight is old: not waited for
        shown = samples(text)
        assert shown["metad_store_figures_stale"] == 1
        assert shown["metad_store_figures_age_seconds"] > FIGURES_MAX_AGE_S
        assert "metad_outbox_in_doubt" not in shown
        assert not any(name.startswith("metad_campaign_") for name in shown)
        own_gauges_are_there(shown)
        assert store.most_in_flight[IN_DOUBT_SQL] == 1

        store.answer()
        await trio.testing.wait_all_tasks_blocked()
        shown = samples((await get("/metrics"))[1])
        assert shown["metad_store_figures_stale"] == 0
        assert shown["metad_outbox_in_doubt"] == 3


async def test_readiness_without_the_listener_asks_the_store_itself() -> None:
    daemon = fake_daemon(SilentStore())
    assert await readiness(daemon) == []
    daemon.stop.set()
    daemon.supervisor.down = ["chip:1"]
    assert await readiness(daemon) == ["stopping", "actors not up: chip:1"]


async def test_over_http_readyz_and_metrics_answer_while_the_store_hangs() -> None:
    """The operator's case, in real time: the store stops answering, the listener does not."""
    store = SilentStore(answering=False)
    daemon = fake_daemon(store)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        base = await nursery.start(
            lambda task_status: serve_ops(
                daemon, Metrics(), "127.0.0.1:0", shutdown=stop, task_status=task_status
            )
        )
        try:
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                with trio.fail_after(STORE_TIMEOUT_S + 1):
                    ready = await client.get("/readyz")
                assert ready.status_code == 503
                assert ready.json() == {"ready": False, "reasons": [NO_ANSWER]}
                with trio.fail_after(1):
                    scraped = await client.get("/metrics")
                    assert (await client.get("/healthz")).status_code == 200
                assert scraped.status_code == 200
                own_gauges_are_there(samples(scraped.text))

                store.answer()
                with trio.fail_after(STORE_TIMEOUT_S):
                    while (ready := await client.get("/readyz")).status_code != 200:
                        await trio.sleep(0.05)
                shown = samples((await client.get("/metrics")).text)
                assert shown["metad_outbox_in_doubt"] == 3
        finally:
            store.answer()
            stop.set()
