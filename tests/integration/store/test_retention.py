"""RetentionRepository against the real schema: only expired, unneeded rows go.

Why against PostgreSQL: what matters is SQL (which rows a statement picks, foreign keys
checked at the end of a statement, batches that each commit, two pruners at once), and a
fake would test the fake. Rows are written with ages relative to the server's clock,
the one pruning measures with. Pruning must not change ``metad webhooks stats``: the
counts of the bodies it deletes are kept (``webhook_pruned_counts``), exactly once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import trio

from config.model import RetentionConfig
from daemon.store import Store
from daemon.store.inbox import COUNTED, InboxStats
from daemon.store.retention import TABLES, RetentionRepository
from tests.integration.store.support import CHIP, running_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.trio]

DAY = dt.timedelta(days=1)
KEEP = 8 * DAY


async def _seen(store: Store, key: str, age: dt.timedelta) -> None:
    await store.execute(
        "INSERT INTO webhook_seen (key, seen_at) VALUES ($1, now() - $2::interval)", key, age
    )


async def _inbox(
    store: Store,
    received: dt.timedelta,
    processed: dt.timedelta | None,
    *,
    state: str = "parsed",
    signature_ok: bool = True,
    unknown_number: int = 0,
) -> int:
    """One inbox row received ``received`` ago, processed ``processed`` ago (or not)."""
    row_id: int = await store.fetchval(
        "INSERT INTO webhook_inbox"
        " (received_at, body, signature_ok, state, processed_at, unknown_number)"
        " VALUES (now() - $1::interval, $2, $3, $4, now() - $5::interval, $6) RETURNING id",
        received,
        b"" if not signature_ok else b'{"object":"whatsapp_business_account"}',
        signature_ok,
        state,
        processed,
        unknown_number,
    )
    return row_id


async def _handoff(
    store: Store, inbox_id: int, chip: str, created: dt.timedelta, done: dt.timedelta | None
) -> None:
    await store.execute(
        "INSERT INTO webhook_handoff (inbox_id, chip, created_at, done_at)"
        " VALUES ($1, $2, now() - $3::interval, now() - $4::interval)",
        inbox_id,
        chip,
        created,
        done,
    )


async def _orphan(store: Store, inbox_id: int) -> None:
    await store.execute(
        "INSERT INTO webhook_orphans (inbox_id, phone_number_id, kind) VALUES ($1, '9', 'status')",
        inbox_id,
    )


async def _ids(store: Store, table: str, column: str = "id") -> set[object]:
    return {r[0] for r in await store.fetch(f"SELECT {column} FROM {table}")}


async def test_seen_keys_past_the_retention_go_in_batches(store: Store) -> None:
    for i in range(5):
        await _seen(store, f"s:old{i}", KEEP + DAY + i * dt.timedelta(hours=1))
    await _seen(store, "s:edge", KEEP - dt.timedelta(hours=1))
    await _seen(store, "m:new", DAY)
    swept = await RetentionRepository(store).prune_seen(KEEP, batch_rows=2)
    assert (swept.rows, swept.complete) == (5, True)
    assert await _ids(store, "webhook_seen", "key") == {"s:edge", "m:new"}
    again = await RetentionRepository(store).prune_seen(KEEP, batch_rows=2)
    assert (again.rows, again.complete) == (0, True)


async def test_seen_pruning_finds_old_keys_by_index(store: Store) -> None:
    """The age filter is served by migration 0011's index, not a scan of every key."""
    await store.execute(
        "INSERT INTO webhook_seen (key, seen_at)"
        " SELECT 'k' || g, now() - g * interval '1 minute' FROM generate_series(1, 20000) g"
    )
    await store.execute("ANALYZE webhook_seen")
    plan = "\n".join(
        r[0]
        for r in await store.fetch(
            "EXPLAIN SELECT ctid FROM webhook_seen WHERE seen_at >= $1"
            " AND seen_at < now() - $2::interval ORDER BY seen_at LIMIT 5000",
            dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
            dt.timedelta(days=8),
        )
    )
    assert "webhook_seen_seen_at_idx" in plan


async def test_inbox_keeps_what_is_still_needed(store: Store) -> None:
    old, young = KEEP + 2 * DAY, DAY
    done_old = await _inbox(store, old, old)
    unprocessed_old = await _inbox(store, 30 * DAY, None, state="pending")
    processed_late = await _inbox(store, old, young)
    rejected_old = await _inbox(store, old, None, state="rejected", signature_ok=False)
    waiting_for_handoff = await _inbox(store, old, old)
    await _handoff(store, waiting_for_handoff, "200000000000002", old, None)
    with_orphan_and_handoff = await _inbox(store, old, old)
    await _orphan(store, with_orphan_and_handoff)
    await _handoff(store, with_orphan_and_handoff, "200000000000003", old, old)
    duplicate_old = await _inbox(store, old, old, state="duplicate")
    rejected_young = await _inbox(store, young, None, state="rejected", signature_ok=False)
    done_young = await _inbox(store, young, young)
    unprocessed_young = await _inbox(store, young, None, state="pending")

    swept = await RetentionRepository(store).prune_inbox(KEEP, batch_rows=2)

    assert swept.complete
    assert (swept.rows, swept.orphans, swept.handoffs) == (4, 1, 1)
    assert await _ids(store, "webhook_inbox") == {
        unprocessed_old,
        processed_late,
        waiting_for_handoff,
        rejected_young,
        done_young,
        unprocessed_young,
    }
    assert {done_old, rejected_old, with_orphan_and_handoff, duplicate_old}.isdisjoint(
        await _ids(store, "webhook_inbox")
    )
    assert await _ids(store, "webhook_orphans", "inbox_id") == set()
    assert await _ids(store, "webhook_handoff", "inbox_id") == {waiting_for_handoff}
    # The old unprocessed body is still there for the processor to take.
    pending = await store.inbox.pending(limit=10)
    assert [r.id for r in pending] == [unprocessed_old, unprocessed_young]


async def test_inbox_walk_stops_at_young_bodies(store: Store) -> None:
    """Pruning walks ids only until they are young: a body it cannot judge by its place
    (processed long ago but behind young ids) waits for a later run; none is wrong."""
    old = KEEP + DAY
    first = await _inbox(store, old, old)
    for _ in range(4):
        await _inbox(store, DAY, DAY)
    swept = await RetentionRepository(store).prune_inbox(KEEP, batch_rows=2)
    assert (swept.rows, swept.complete) == (1, True)
    assert first not in await _ids(store, "webhook_inbox")
    assert len(await _ids(store, "webhook_inbox")) == 4


async def test_applied_handoffs_past_the_retention_go(store: Store) -> None:
    body = await _inbox(store, DAY, DAY)
    await _handoff(store, body, "1", 3 * DAY, 3 * DAY)
    await _handoff(store, body, "2", 3 * DAY, DAY)
    await _handoff(store, body, "3", 30 * DAY, None)
    await _handoff(store, body, "4", 3 * DAY, 3 * DAY)
    swept = await RetentionRepository(store).prune_handoffs(2 * DAY, batch_rows=1)
    assert (swept.rows, swept.complete) == (2, True)
    assert await _ids(store, "webhook_handoff", "chip") == {"2", "3"}


async def test_budget_alert_claims_go_after_their_retention(store: Store) -> None:
    for period, age in (("2026-01", 100 * DAY), ("2026-02", 95 * DAY), ("2026-05", 10 * DAY)):
        await store.execute(
            "INSERT INTO budget_alerts (scope, period_key, threshold, at)"
            " VALUES ('global:month', $1, 0.8, now() - $2::interval)",
            period,
            age,
        )
    swept = await RetentionRepository(store).prune_alerts(90 * DAY, batch_rows=1)
    assert (swept.rows, swept.complete) == (2, True)
    assert await _ids(store, "budget_alerts", "period_key") == {"2026-05"}
    # A claim that is kept still blocks a second announcement of its alert.
    claimed = await store.budget_journal.claim_alerts([("global:month", "2026-05", Decimal("0.8"))])
    assert claimed == set()


async def test_pending_handoffs_of_a_chip_that_left_the_configuration_go(store: Store) -> None:
    """Nobody will apply them, and they would keep their bodies for ever; those of a
    configured chip, or pending for less than the inbox retention, stay."""
    old = KEEP + DAY
    bodies = [await _inbox(store, old, old) for _ in range(3)]
    for body in bodies:
        await _handoff(store, body, "gone", old, None)
    await _handoff(store, bodies[0], "here", old, None)
    young = await _inbox(store, DAY, DAY)
    await _handoff(store, young, "gone", DAY, None)

    repo = RetentionRepository(store)
    pruned = await repo.prune(RetentionConfig(batch_rows=2), configured={"here"})

    assert pruned.abandoned == {"gone": 3}
    assert pruned.rows["webhook_handoff"] == 3
    assert await _ids(store, "webhook_handoff", "(inbox_id, chip)::text") == {
        f"({bodies[0]},here)",
        f"({young},gone)",
    }
    # Their bodies had nothing else waiting: they went in the same run.
    assert await _ids(store, "webhook_inbox") == {bodies[0], young}
    kept = await repo.prune(RetentionConfig(), configured=None)
    assert (kept.abandoned, kept.rows["webhook_handoff"]) == ({}, 0)


async def _otp(store: Store, purpose: str, ended: dt.timedelta, locked: bool = False) -> None:
    """A code whose expiry and hourly send window ended ``ended`` ago."""
    await store.execute(
        "INSERT INTO otp_codes (contact, purpose, salt, code_hash, issued_at, expires_at,"
        " window_start, locked_until) VALUES ('5511', $1, '\\x00', '\\x00',"
        " now() - $2::interval - interval '1 hour', now() - $2::interval,"
        " now() - $2::interval - interval '1 hour',"
        " CASE WHEN $3 THEN now() + interval '10 minutes' END)",
        purpose,
        ended,
        locked,
    )


async def test_rows_that_ended_go(store: Store) -> None:
    """Codes once expired, unlocked and out of their send window for a day; shift
    offers with the message history; uploaded media once Meta has forgotten them."""
    await _otp(store, "old", 2 * DAY)
    await _otp(store, "recent", dt.timedelta(hours=12))
    await _otp(store, "locked", 2 * DAY, locked=True)
    await store.execute("INSERT INTO wabas (waba_id) VALUES ('w') ON CONFLICT DO NOTHING")
    for shift, age in (("s-old", 200 * DAY), ("s-new", 10 * DAY)):
        await store.execute(
            "INSERT INTO shift_confirmations (shift_id, contact, nonce, chip, sent_at)"
            " VALUES ($1, '5511', $1, '555', now() - $2::interval)",
            shift,
            age,
        )
    for sha, expires in (("gone", -DAY), ("live", DAY)):
        await store.execute(
            "INSERT INTO media_cache (owner, sha256, kind, media_id, mime_type,"
            " uploaded_at, expires_at) VALUES ('555', $1, 'media', $1, 'image/png',"
            " now() - interval '20 days', now() + $2::interval)",
            sha,
            expires,
        )
    pruned = await RetentionRepository(store).prune(RetentionConfig(batch_rows=1))
    assert pruned.complete
    assert (
        pruned.rows["otp_codes"],
        pruned.rows["shift_confirmations"],
        pruned.rows["media_cache"],
    ) == (1, 1, 1)
    assert await _ids(store, "otp_codes", "purpose") == {"recent", "locked"}
    assert await _ids(store, "shift_confirmations", "shift_id") == {"s-new"}
    assert await _ids(store, "media_cache", "sha256") == {"live"}


async def test_prune_covers_every_table_with_the_config(store: Store) -> None:
    old = 100 * DAY
    await _seen(store, "s:old", old)
    body = await _inbox(store, old, old)
    await _orphan(store, body)
    await _handoff(store, body, "1", old, old)
    other = await _inbox(store, DAY, DAY)
    await _handoff(store, other, "1", 3 * DAY, 3 * DAY)
    await store.execute(
        "INSERT INTO budget_alerts (scope, period_key, threshold, at)"
        " VALUES ('global:day', '2026-01-01', 1, now() - $1::interval)",
        old,
    )
    await running_campaign(store, [])
    await store.execute(
        "INSERT INTO outbox (chip, wa_id, kind, payload, state, created_at, updated_at)"
        " VALUES ($1, '5511900000000', 'text', '{}', 'read', now() - $2::interval,"
        " now() - $2::interval)",
        CHIP,
        2 * old,  # past the 180 days of messages_days
    )
    pruned = await RetentionRepository(store).prune(RetentionConfig())
    assert pruned.complete
    assert pruned.rows == {
        "webhook_inbox": 1,
        "webhook_orphans": 1,
        "webhook_handoff": 2,
        "webhook_seen": 1,
        "budget_alerts": 1,
        "outbox": 1,
        "budget_ledger": 0,
        "campaign_recipients": 0,
        "events": 0,
        "otp_codes": 0,
        "shift_confirmations": 0,
        "media_cache": 0,
    }
    assert set(pruned.rows) == set(TABLES)
    assert pruned.total == 7
    assert await _ids(store, "webhook_inbox") == {other}


async def test_keep_going_bounds_a_run_and_the_next_goes_on(store: Store) -> None:
    for i in range(5):
        await _seen(store, f"s:{i}", 10 * DAY)
        await _inbox(store, 10 * DAY, 10 * DAY)
    repo = RetentionRepository(store)
    stopped = await repo.prune_seen(KEEP, 2, lambda: False)
    assert (stopped.rows, stopped.complete) == (0, False)
    batches = iter([True, False])
    part = await repo.prune_inbox(KEEP, 2, lambda: next(batches))
    assert (part.rows, part.complete) == (2, False)
    cfg = RetentionConfig(batch_rows=2)
    rest = await repo.prune(cfg)
    assert rest.complete
    assert (rest.rows["webhook_inbox"], rest.rows["webhook_seen"]) == (3, 5)


async def _pruned_counts(store: Store) -> dict[str, int]:
    return {r["outcome"]: r["n"] for r in await store.fetch("SELECT * FROM webhook_pruned_counts")}


async def test_stats_count_every_field_of_inbox_stats() -> None:
    """One expression per field: a field without one would be counted by no one."""
    assert [name for name, _ in COUNTED] == list(InboxStats.__dataclass_fields__)


async def test_webhook_stats_are_the_same_before_and_after_pruning(store: Store) -> None:
    """Every outcome ``metad webhooks stats`` reports counts what was ever received:
    pruning moves the deleted bodies' counts to webhook_pruned_counts, once."""
    old, young = KEEP + 2 * DAY, DAY
    await _orphan(store, await _inbox(store, old, old, unknown_number=1))
    for age in (old, young):
        await _inbox(store, age, age, state="parsed", unknown_number=2)
        await _inbox(store, age, age, state="parsed")
        await _inbox(store, age, age, state="unparsed")
        await _inbox(store, age, age, state="duplicate", unknown_number=1)
        await _inbox(store, age, None, state="rejected", signature_ok=False)
        await _inbox(store, age, None, state="pending")
    before = await store.inbox.stats()
    assert before == InboxStats(
        received=11,
        duplicates=2,
        parsed=5,
        unparsed=2,
        pending=2,
        unknown_number=7,
        rejected_signature=2,
    )

    swept = await RetentionRepository(store).prune_inbox(KEEP, batch_rows=3)

    assert (swept.rows, swept.orphans, swept.complete) == (6, 1, True)
    assert await store.fetchval("SELECT count(*) FROM webhook_inbox") == 7
    assert await store.inbox.stats() == before
    deleted = {
        "received": 5,
        "duplicates": 1,
        "parsed": 3,
        "unparsed": 1,
        "unknown_number": 4,
        "rejected_signature": 1,
    }  # no "pending": an unprocessed body is never deleted
    assert await _pruned_counts(store) == deleted
    # Pruning again deletes nothing and adds nothing.
    again = await RetentionRepository(store).prune(RetentionConfig(batch_rows=3))
    assert again.rows["webhook_inbox"] == 0
    assert await _pruned_counts(store) == deleted
    assert await store.inbox.stats() == before
    # New requests count on top of the pruned ones...
    await _inbox(store, young, young, state="duplicate")
    await _inbox(store, young, None, state="rejected", signature_ok=False)
    after = InboxStats(
        received=12,
        duplicates=3,
        parsed=5,
        unparsed=2,
        pending=2,
        unknown_number=7,
        rejected_signature=3,
    )
    assert await store.inbox.stats() == after
    # ... and nine days later, every processed body pruned, the counts are the same.
    await store.execute(
        "UPDATE webhook_inbox SET received_at = received_at - interval '9 days',"
        " processed_at = processed_at - interval '9 days'"
    )
    assert (await RetentionRepository(store).prune_inbox(KEEP, batch_rows=3)).rows == 7
    assert await store.fetchval("SELECT count(*) FROM webhook_inbox") == 2  # the pending
    assert await store.inbox.stats() == after
    assert await _pruned_counts(store) == {
        "received": 10,
        "duplicates": 3,
        "parsed": 5,
        "unparsed": 2,
        "unknown_number": 7,
        "rejected_signature": 3,
    }


async def test_two_pruners_at_once_delete_each_row_once(store: Store) -> None:
    """Daemons overlapping while leadership moves: no error, no row counted twice, no
    webhook count lost or doubled, not even for a moment (the counts move with the
    delete that frees them, in one commit, and stats() reads both in one snapshot)."""
    await store.execute(
        "INSERT INTO webhook_seen (key, seen_at)"
        " SELECT 'old' || g, now() - interval '9 days' - g * interval '1 second'"
        " FROM generate_series(1, 3000) g"
    )
    # Every outcome, interleaved, so each batch of each pruner adds to every count row.
    await store.execute(
        "INSERT INTO webhook_inbox"
        " (received_at, body, signature_ok, state, processed_at, unknown_number)"
        " SELECT now() - interval '9 days', '{}', s <> 'rejected', s,"
        "        CASE WHEN s <> 'rejected' THEN now() - interval '9 days' END, g % 3"
        " FROM generate_series(1, 3000) g,"
        "      LATERAL (SELECT (ARRAY['parsed', 'unparsed', 'duplicate', 'rejected'])[g % 4 + 1]"
        "               AS s) s"
    )
    await _seen(store, "young", DAY)
    await _inbox(store, DAY, DAY, unknown_number=5)
    await _inbox(store, 30 * DAY, None, state="pending")
    before = await store.inbox.stats()
    assert before == InboxStats(
        received=2252,
        duplicates=750,
        parsed=751,
        unparsed=750,
        pending=1,
        unknown_number=3005,
        rejected_signature=750,
    )
    counts: list[tuple[int, int]] = []
    readings: list[InboxStats] = []
    pruning = 3

    async def prune() -> None:
        nonlocal pruning
        repo = RetentionRepository(store)
        seen = await repo.prune_seen(KEEP, 100)
        inbox = await repo.prune_inbox(KEEP, 50)
        counts.append((seen.rows, inbox.rows))
        pruning -= 1

    async def read() -> None:
        while pruning:
            readings.append(await store.inbox.stats())

    async with trio.open_nursery() as nursery:
        for _ in range(pruning):
            nursery.start_soon(prune)
        nursery.start_soon(read)
    assert sum(s for s, _ in counts) == 3000
    assert sum(i for _, i in counts) == 3000
    assert await _ids(store, "webhook_seen", "key") == {"young"}
    assert await store.fetchval("SELECT count(*) FROM webhook_inbox") == 2
    assert await store.inbox.stats() == before
    assert readings
    assert all(r == before for r in readings)
    assert await _pruned_counts(store) == {
        "received": 2250,
        "duplicates": 750,
        "parsed": 750,
        "unparsed": 750,
        "unknown_number": 3000,
        "rejected_signature": 750,
    }
