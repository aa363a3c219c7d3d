"""After the 200: duplicates, out-of-order statuses, unknown numbers and restarts.

Through a running daemon where the HTTP path matters, and with an ``InboxProcessor`` of
the test's own (a recording sink instead of actors) where what reaches the actors does.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import trio

from actors.chip import ChipSnapshot, GetSnapshot
from daemon.store import Store
from daemon.store.outbox import callback_data
from daemon.webhook.processor import InboxProcessor
from tests.integration.webhook.conftest import (
    Hook,
    add_outbox,
    outbox_state,
    running,
)
from tests.integration.webhook.support import (
    UNKNOWN_PNID,
    UNKNOWN_WABA,
    RecordingSink,
    message_body,
    status,
    statuses_body,
)
from tests.unit.daemon.webhook.samples import PNID, WABA, body, fixture

# --- duplicates -----------------------------------------------------------------------------


async def test_same_body_twice_is_one_processed_and_one_duplicate(hook: Hook) -> None:
    raw = fixture("message_text.json")
    assert await hook.post(raw) == 200
    await hook.processed()
    assert await hook.post(raw) == 200  # Meta's retry: the very same bytes, later
    stats = await hook.processed()
    assert (stats.received, stats.parsed, stats.duplicates) == (2, 1, 1)
    assert hook.daemon.processor.stats.events == 1


async def test_same_body_twice_at_once_is_still_one_duplicate(hook: Hook) -> None:
    raw = fixture("status_read.json")
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(hook.post, raw)
    stats = await hook.processed()
    assert (stats.received, stats.parsed, stats.duplicates) == (3, 1, 2)


async def test_same_status_in_two_different_bodies_is_applied_once(hook: Hook) -> None:
    store = hook.daemon.store
    row = await add_outbox(store, state="sent", wamid="wamid.TWICE")
    one = statuses_body(status("wamid.TWICE", "delivered", ts=1764000100))
    # Another body carrying the same (wamid, status), e.g. batched with something else.
    other = statuses_body(
        status("wamid.OTHER", "sent"), status("wamid.TWICE", "delivered", ts=1764000101)
    )
    assert one != other
    assert await hook.post(one) == 200
    await hook.processed()
    assert await hook.post(other) == 200
    stats = await hook.processed()
    assert (stats.parsed, stats.duplicates) == (2, 0)  # not a body duplicate...
    assert hook.daemon.processor.stats.events == 2  # ...but the repeated event was skipped
    seen = await store.fetch("SELECT key FROM webhook_seen ORDER BY key")
    assert [r["key"] for r in seen] == ["s:wamid.OTHER:sent", "s:wamid.TWICE:delivered"]
    assert await outbox_state(store, row) == ("delivered", "wamid.TWICE")


async def test_same_event_in_two_bodies_reaches_the_actor_once(store: Store) -> None:
    sink = RecordingSink()
    await store.inbox.append(statuses_body(status("wamid.A", "delivered", ts=1)))
    await store.inbox.append(statuses_body(status("wamid.A", "delivered", ts=2)))
    await store.inbox.append(message_body("wamid.IN.A", at=1764000000))
    await store.inbox.append(message_body("wamid.IN.A", at=1764000000, text="edited?"))
    assert await InboxProcessor(store, sink).drain() == 4
    assert sink.keys() == ["status:wamid.A:delivered", "message:wamid.IN.A:"]
    # Across batches too: a third copy, processed later, changes nothing.
    await store.inbox.append(statuses_body(status("wamid.A", "delivered", ts=3)))
    assert await InboxProcessor(store, sink).drain() == 1
    assert len(sink.events) == 2


# --- out-of-order statuses --------------------------------------------------------------------


async def test_read_then_delivered_leaves_the_row_read(hook: Hook) -> None:
    store = hook.daemon.store
    row = await add_outbox(store, state="sent", wamid="wamid.LATE")
    assert await hook.post(statuses_body(status("wamid.LATE", "read", ts=1764000200))) == 200
    await hook.processed()
    assert await outbox_state(store, row) == ("read", "wamid.LATE")
    assert await hook.post(statuses_body(status("wamid.LATE", "delivered", ts=1764000100))) == 200
    await hook.processed()
    assert await outbox_state(store, row) == ("read", "wamid.LATE")


async def test_callback_data_settles_a_row_that_never_learnt_its_wamid(hook: Hook) -> None:
    """A send left in doubt by a crash: only ``metad:o:<id>`` ties the statuses to it."""
    store = hook.daemon.store
    row = await add_outbox(store, state="in_doubt", wamid=None)
    cb = callback_data(row)
    # read and a late delivered in one body, then sent and failed in another.
    first = statuses_body(
        status("wamid.DOUBT", "read", ts=1764000300, callback=cb),
        status("wamid.DOUBT", "delivered", ts=1764000200, callback=cb),
    )
    later = statuses_body(
        status("wamid.DOUBT", "sent", ts=1764000100, callback=cb),
        status("wamid.DOUBT", "failed", ts=1764000400, callback=cb),
    )
    assert await hook.post(first) == 200
    await hook.processed()
    assert await outbox_state(store, row) == ("read", "wamid.DOUBT")  # and the wamid is learnt
    assert await hook.post(later) == 200
    await hook.processed()
    assert await outbox_state(store, row) == ("read", "wamid.DOUBT")


@pytest.mark.parametrize(
    ("arrivals", "final"),
    [
        (["delivered", "sent", "read", "sent"], "read"),
        (["failed", "delivered", "sent"], "failed"),
        (["sent", "failed", "read", "delivered"], "read"),
    ],
)
async def test_statuses_in_any_order_converge_to_the_highest(
    store: Store, arrivals: list[str], final: str
) -> None:
    row = await add_outbox(store, state="accepted", wamid="wamid.ORDER")
    processor = InboxProcessor(store, RecordingSink())
    for i, state in enumerate(arrivals):
        await store.inbox.append(statuses_body(status("wamid.ORDER", state, ts=1764000000 + i)))
        await processor.drain()  # one body at a time: each arrival is its own batch
    assert await outbox_state(store, row) == (final, "wamid.ORDER")


# --- unknown numbers --------------------------------------------------------------------------


async def test_events_for_unknown_numbers_are_kept_as_orphans(hook: Hook) -> None:
    store = hook.daemon.store
    unknown_message = message_body("wamid.STRANGER", pnid=UNKNOWN_PNID)
    unknown_status = statuses_body(status("wamid.S1", "sent"), pnid=UNKNOWN_PNID)
    unknown_waba = body(
        (
            "message_template_status_update",
            {
                "event": "APPROVED",
                "message_template_id": 1,
                "message_template_name": "x",
                "message_template_language": "pt_BR",
                "reason": "NONE",
            },
        ),
        waba=UNKNOWN_WABA,
    )
    known = fixture("message_text.json")
    for raw in (unknown_message, unknown_status, unknown_waba, known):
        assert await hook.post(raw) == 200
    stats = await hook.processed()
    assert (stats.parsed, stats.unparsed, stats.unknown_number) == (4, 0, 3)
    orphans = await store.fetch(
        "SELECT o.phone_number_id, o.waba_id, o.kind, i.body FROM webhook_orphans o"
        " JOIN webhook_inbox i ON i.id = o.inbox_id ORDER BY o.id"
    )
    assert [(r["phone_number_id"], r["waba_id"], r["kind"]) for r in orphans] == [
        (UNKNOWN_PNID, WABA, "message"),
        (UNKNOWN_PNID, WABA, "status"),
        (None, UNKNOWN_WABA, "template_status"),
    ]
    # Each orphan points at the body it came in, which is kept for replay.
    assert [bytes(r["body"]) for r in orphans] == [unknown_message, unknown_status, unknown_waba]
    assert hook.daemon.processor.stats.unknown_number == 3


# --- restarts ---------------------------------------------------------------------------------


async def test_fresh_processor_drains_rows_left_pending(store: Store) -> None:
    """Rows stored by a daemon that stopped before processing them (crash or restart)."""
    bodies = [
        message_body("wamid.P1", at=1764000000),
        statuses_body(status("wamid.P2", "delivered")),
        message_body("wamid.P3", pnid=UNKNOWN_PNID, at=1764000000),
        b'{"object": "instagram", "entry": []}',  # a JSON object we do not understand
    ]
    for raw in [*bodies, bodies[0]]:
        await store.inbox.append(raw)
    assert (await store.inbox.stats()).pending == 5

    sink = RecordingSink()
    processor = InboxProcessor(store, sink, batch_rows=2)  # pages through the rows
    assert await processor.drain() == 5
    assert sink.keys() == ["message:wamid.P1:", "status:wamid.P2:delivered", "message:wamid.P3:"]
    stats = await store.inbox.stats()
    assert (stats.pending, stats.parsed, stats.unparsed, stats.duplicates) == (0, 3, 1, 1)
    assert stats.unknown_number == 1
    # A second restart finds nothing to do and delivers nothing again.
    assert await InboxProcessor(store, sink).drain() == 0
    assert len(sink.events) == 3


async def test_processing_that_crashes_midway_is_redone_on_restart(store: Store) -> None:
    for i in range(4):
        await store.inbox.append(message_body(f"wamid.C{i}", at=1764000000))
    crashing = RecordingSink(fail_after=2)
    with pytest.raises(RuntimeError, match="actor gone"):
        await InboxProcessor(store, crashing).drain()
    assert (await store.inbox.stats()).pending == 4  # nothing marked: the batch is redone
    assert await store.fetchval("SELECT count(*) FROM webhook_seen") == 0

    sink = RecordingSink()
    assert await InboxProcessor(store, sink).drain() == 4
    assert sink.keys() == [f"message:wamid.C{i}:" for i in range(4)]
    assert (await store.inbox.stats()).parsed == 4


async def test_processor_run_drains_before_it_reports_started(store: Store) -> None:
    await store.inbox.append(message_body("wamid.R1", at=1764000000))
    await store.inbox.append(statuses_body(status("wamid.R2", "read")))
    sink = RecordingSink()
    processor = InboxProcessor(store, sink)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(processor.run, idle_poll_s=0.05))
        assert len(sink.events) == 2  # done before started(), not eventually
        assert (await store.inbox.stats()).pending == 0
        # Afterwards it keeps going: a row stored later is picked up on wake-up.
        await store.inbox.append(message_body("wamid.R3", at=1764000000))
        processor.wake()
        with trio.fail_after(5):
            while len(sink.events) < 3:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()


async def test_daemon_processes_pending_rows_before_ready(
    store: Store, db_dsn: str, tmp_path: Path
) -> None:
    """Rows a previous run stored but never processed are routed before READY."""
    row = await add_outbox(store, state="sent", wamid="wamid.BEFORE")
    contact = "5511912345678"
    pending = [
        message_body("wamid.WHILE.DOWN", sender=contact),  # now: opens a live window
        statuses_body(status("wamid.BEFORE", "read")),
        message_body("wamid.ORPHAN", pnid=UNKNOWN_PNID),
    ]
    for raw in [*pending, pending[0]]:
        await store.inbox.append(raw)

    async with running(db_dsn, tmp_path / "state") as hook:
        # READY: no waiting — the rows were processed before the endpoint opened.
        stats = await hook.stats()
        assert (stats.pending, stats.parsed, stats.duplicates, stats.unknown_number) == (
            0,
            3,
            1,
            1,
        )
        assert await outbox_state(store, row) == ("read", "wamid.BEFORE")
        # The inbound was cast to the chip before READY; its mailbox is FIFO, so the
        # snapshot answer comes after the window was opened.
        snap: ChipSnapshot = await hook.daemon.fleet.chip(PNID).call(lambda r: GetSnapshot(reply=r))
        assert snap.open_windows == 1


async def test_restart_of_a_running_daemon_picks_up_where_it_stopped(
    db_dsn: str, tmp_path: Path
) -> None:
    raw = fixture("message_image.json")
    async with running(db_dsn, tmp_path) as hook:
        assert await hook.post(raw) == 200
        await hook.processed()
    async with running(db_dsn, tmp_path) as hook:
        assert await hook.post(raw) == 200  # Meta's retry reaches the new run
        stats = await hook.processed()
        assert (stats.received, stats.parsed, stats.duplicates) == (2, 1, 1)
