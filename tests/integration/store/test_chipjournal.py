"""ChipJournalRepository's outbox writes: group commit with single-statement results."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import trio

from actors.ports import ChipRecord, OutboxRow
from daemon.store import Store
from daemon.store.chipjournal import ALIASES_SQL, RECENT_SENDS_SQL

pytestmark = [pytest.mark.postgres, pytest.mark.trio]

CHIP = "555"


async def _setup(store: Store) -> None:
    await store.chips.save(ChipRecord(phone_number_id=CHIP, waba_id="200", display_number="+1"))
    await store.execute(
        "INSERT INTO campaigns (id, name, spec, state) VALUES ('c1', 'c1', '{}', 'running')"
    )


async def _new(store: Store, recipient: str | None = None, key: str = "5511") -> int | None:
    (outbox_id,) = await store.chip_journal.outbox_new([_row_of(recipient, key)])
    return outbox_id


def _row_of(recipient: str | None, key: str = "5511") -> OutboxRow:
    return OutboxRow(
        chip=CHIP,
        key=key,
        kind="template",
        payload={"to": key, "n": 1},
        decision={"method": "template"},
        campaign_id="c1" if recipient is not None else None,
        recipient_id=recipient,
    )


async def _row(store: Store, outbox_id: int) -> dict[str, Any]:
    row = await store.fetchrow(
        "SELECT state, wamid, attempts, error, payload, decision, recipient_id"
        " FROM outbox WHERE id = $1",
        outbox_id,
    )
    assert row is not None
    return dict(row.items())


async def test_a_single_write_keeps_the_row_as_given(store: Store) -> None:
    await _setup(store)
    oid = await _new(store, "r1")
    assert oid is not None
    row = await _row(store, oid)
    assert row["state"] == "queued"
    assert row["payload"] == {"to": "5511", "n": 1}
    assert row["decision"] == {"method": "template"}
    await store.chip_journal.outbox_set(oid, "sending")
    await store.chip_journal.outbox_set(oid, "accepted", wamid="wamid.1")
    row = await _row(store, oid)
    assert (row["state"], row["wamid"], row["attempts"]) == ("accepted", "wamid.1", 1)


async def test_concurrent_writes_share_commits_and_each_gets_its_own_answer(
    store: Store,
) -> None:
    await _setup(store)
    ids: dict[str, int | None] = {}

    async def one(i: int) -> None:
        ids[f"r{i}"] = await _new(store, f"r{i}" if i % 2 else None, key=f"55{i}")

    async with trio.open_nursery() as nursery:
        for i in range(200):
            nursery.start_soon(one, i)
    assert len(set(ids.values())) == 200
    assert None not in ids.values()
    for i in (1, 2, 77, 150):
        oid = ids[f"r{i}"]
        assert oid is not None
        row = await _row(store, oid)
        assert row["payload"]["to"] == f"55{i}"
        assert row["recipient_id"] == (f"r{i}" if i % 2 else None)
    batches = store.chip_journal.outbox_writes.batches
    assert batches < 200 // 5


async def test_a_recipient_gets_one_row_even_when_handed_twice_at_once(store: Store) -> None:
    await _setup(store)
    got: list[int | None] = []

    async def one() -> None:
        got.append(await _new(store, "r1"))

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(one)
    assert sorted(got, key=lambda x: x or 0)[:4] == [None] * 4
    assert await store.fetchval("SELECT count(*) FROM outbox WHERE recipient_id = 'r1'") == 1


async def test_a_cancelled_row_is_taken_over_with_its_id(store: Store) -> None:
    await _setup(store)
    first = await _new(store, "r1")
    assert first is not None
    assert await _new(store, "r1") is None  # live: a duplicate
    await store.chip_journal.outbox_set(first, "cancelled", error={"reason": "budget"})
    async with trio.open_nursery() as nursery:  # taken over inside a batch of others
        for i in range(10):
            nursery.start_soon(_new, store, f"x{i}")
        taken: list[int | None] = []

        async def take() -> None:
            taken.append(await _new(store, "r1"))

        nursery.start_soon(take)
    assert taken == [first]
    row = await _row(store, first)
    assert (row["state"], row["error"]) == ("queued", None)


async def test_sets_never_move_a_webhook_state_back_and_count_attempts(store: Store) -> None:
    await _setup(store)
    ids = [await _new(store, f"r{i}") for i in range(3)]
    assert None not in ids
    a, b, c = (i for i in ids if i is not None)
    await store.execute("UPDATE outbox SET state = 'read' WHERE id = $1", c)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.chip_journal.outbox_set, a, "sending")
        nursery.start_soon(store.chip_journal.outbox_set, b, "in_doubt")
        nursery.start_soon(store.chip_journal.outbox_set, c, "accepted")
    assert (await _row(store, a))["attempts"] == 1
    assert (await _row(store, b))["state"] == "in_doubt"
    assert (await _row(store, c))["state"] == "read"


async def test_one_bad_write_fails_alone(store: Store) -> None:
    await _setup(store)
    a = await _new(store, "r1")
    b = await _new(store, "r2")
    assert a is not None
    assert b is not None
    await store.chip_journal.outbox_set(a, "accepted", wamid="wamid.same")
    failed: list[BaseException] = []

    async def bad() -> None:
        try:
            await store.chip_journal.outbox_set(b, "accepted", wamid="wamid.same")
        except Exception as exc:  # what the single UPDATE raises (a unique violation)
            failed.append(exc)

    async with trio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(_new, store, f"y{i}")
        nursery.start_soon(bad)
    assert len(failed) == 1
    assert "outbox_wamid_key" in str(failed[0])
    assert await store.fetchval("SELECT count(*) FROM outbox WHERE recipient_id LIKE 'y%'") == 5


async def test_aliases_share_the_outbox_commit_and_the_latest_wins(store: Store) -> None:
    await _setup(store)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_new, store, "r1")
        nursery.start_soon(store.chip_journal.save_aliases, [("+55 11 9", "5511"), ("x", "1")])
        nursery.start_soon(store.chip_journal.save_aliases, [("x", "2"), ("ab.cd", "5511")])
    rows = await store.fetch("SELECT alias, wa_id, kind FROM contact_aliases ORDER BY alias")
    got = {r["alias"]: (r["wa_id"], r["kind"]) for r in rows}
    assert got["+55 11 9"] == ("5511", "wa_id")
    assert got["ab.cd"] == ("5511", "bsuid")
    assert got["x"][0] in ("1", "2")
    await store.chip_journal.save_aliases([("x", "3"), ("x", "4")])
    assert await store.fetchval("SELECT wa_id FROM contact_aliases WHERE alias = 'x'") == "4"


async def test_a_batch_of_rows_is_one_commit_with_an_answer_per_row(store: Store) -> None:
    """What a chip's journal lane writes: a new row, a live recipient (None), the same
    recipient twice in one batch (the second is a duplicate, not an error), a cancelled
    row taken over with its id; then the rows marked ``sending`` together."""
    await _setup(store)
    live = await _new(store, "r1")
    cancelled = await _new(store, "r2")
    assert live is not None
    assert cancelled is not None
    await store.chip_journal.outbox_set(cancelled, "cancelled", error={"reason": "budget"})
    before = store.chip_journal.outbox_writes.batches
    ids = await store.chip_journal.outbox_new(
        [_row_of("r3"), _row_of("r1"), _row_of("r4"), _row_of("r4"), _row_of("r2")]
    )
    new3, dup1, new4, dup4, taken = ids
    assert (dup1, dup4, taken) == (None, None, cancelled)
    assert new3 is not None
    assert new4 is not None
    # Two batches: the repeated r4 waits for the next one (one statement, one row once).
    assert store.chip_journal.outbox_writes.batches - before == 2
    await store.chip_journal.outbox_sending([new3, new4, taken])
    for oid in (new3, new4, taken):
        row = await _row(store, oid)
        assert (row["state"], row["attempts"]) == ("sending", 1)
    assert (await _row(store, live))["state"] == "queued"


async def test_a_chip_loads_the_aliases_of_the_contacts_it_deals_with(store: Store) -> None:
    """Those it has a window with or sent to today, found by index: not the fleet's, nor
    its whole message history."""
    await _setup(store)
    await store.chips.save(ChipRecord(phone_number_id="666", waba_id="200", display_number="+2"))
    for contact, chip, age in (
        ("5511000000001", CHIP, "1 hour"),  # messaged today
        ("5511000000002", CHIP, "3 days"),  # messaged long ago
        ("5511000000003", "666", "1 hour"),  # another chip's
    ):
        await store.execute(
            "INSERT INTO outbox (chip, wa_id, kind, payload, state, created_at, updated_at)"
            " VALUES ($1, $2, 'text', '{}', 'read', now() - $3::text::interval, now())",
            chip,
            contact,
            age,
        )
    await store.execute(
        "INSERT INTO windows (chip, wa_id, kind, opened_at, expires_at)"
        " VALUES ($1, '5511000000004', 'service', now(), now() + interval '1 day')",
        CHIP,
    )
    await store.chip_journal.save_aliases(
        [(f"+55 11 0000-000{n}", f"551100000000{n}") for n in range(1, 5)]
    )
    loaded = await store.chip_journal.load_aliases(CHIP)
    assert sorted(wa_id for _, wa_id in loaded) == ["5511000000001", "5511000000004"]
    assert_by_index_and_day(await _plan(store, ALIASES_SQL, CHIP))


async def _plan(store: Store, sql: str, *args: object) -> list[str]:
    async with store.transaction() as con:  # as on a big table: by index
        await con.execute("SET LOCAL enable_seqscan = off")
        return [r[0] for r in await con.fetch("EXPLAIN " + sql, *args)]


def assert_by_index_and_day(plan: list[str]) -> None:
    """The chip's outbox rows are found by the (chip, wa_id, created_at) index and a
    bound on created_at, not by reading all of the chip's rows."""
    outbox_scan = [line for line in plan if "Index Cond: ((chip = " in line]
    assert outbox_scan, plan
    assert all("created_at >" in line for line in outbox_scan), plan


async def test_a_chip_rebuilds_its_rate_gate_from_the_days_sends(store: Store) -> None:
    """Sent (not queued nor failed) since the bound, whenever queued within a day before;
    found by index."""
    await _setup(store)
    for n, (state, queued, sent) in enumerate(
        (
            ("read", "2 hours", "2 hours"),
            ("sent", "30 hours", "20 hours"),  # queued a while before it went
            ("read", "3 days", "3 days"),  # before the day
            ("queued", "1 hour", "1 hour"),  # never sent
        )
    ):
        await store.execute(
            "INSERT INTO outbox (chip, wa_id, kind, payload, state, created_at, updated_at,"
            " decision) VALUES ($1, $2, 'template', '{}', $3, now() - $4::text::interval,"
            " now() - $5::text::interval, '{\"business_initiated\": true}')",
            CHIP,
            f"55110000000{n}",
            state,
            queued,
            sent,
        )
    sends = await store.chip_journal.recent_sends(CHIP, time.time() - 86400)
    assert [(s.key, s.business_initiated) for s in sends] == [
        ("551100000001", True),
        ("551100000000", True),
    ]
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    assert_by_index_and_day(await _plan(store, RECENT_SENDS_SQL, CHIP, since))
