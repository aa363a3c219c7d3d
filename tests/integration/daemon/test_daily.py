"""The console's daily figures on real PostgreSQL: sends and settled cost per chip since
local midnight, and the index that finds the day's rows (migration 0010)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

from daemon.bus import Bus
from daemon.control.methods import DAILY_SQL, ControlContext, refresh_daily
from daemon.store import Store

TZ = ZoneInfo("America/Sao_Paulo")


async def _outbox(store: Store, chip: str, state: str, at: dt.datetime) -> int:
    return int(
        await store.fetchval(
            "INSERT INTO outbox (chip, wa_id, kind, payload, state, created_at)"
            " VALUES ($1, '5511999990000', 'template', '{}', $2, $3) RETURNING id",
            chip,
            state,
            at,
        )
    )


async def _book(store: Store, outbox_id: int, kind: str, amount: str) -> None:
    await store.execute(
        "INSERT INTO budget_ledger (outbox_id, kind, category, amount_usd, ref)"
        " VALUES ($1::bigint, $2, 'marketing', $3::numeric, 'o:' || $1::bigint)",
        outbox_id,
        kind,
        amount,
    )


async def test_sends_and_settled_cost_per_chip_since_local_midnight(store: Store) -> None:
    await store.execute("INSERT INTO wabas (waba_id) VALUES ('w1')")
    await store.execute(
        "INSERT INTO chips (phone_number_id, waba_id, display_number)"
        " VALUES ('c1', 'w1', '+1'), ('c2', 'w1', '+2'), ('c3', 'w1', '+3')"
    )
    now = dt.datetime.now(TZ)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)

    # c1: four states that count; each one's latest settlement (as the budget ledger
    # counts it), reservations and releases not.
    a = await _outbox(store, "c1", "accepted", midnight)  # the first instant counts
    await _book(store, a, "reservation", "0.0625")
    s = await _outbox(store, "c1", "sent", now)
    await _book(store, s, "reservation", "0.0625")
    await _book(store, s, "settlement", "0.0625")
    d = await _outbox(store, "c1", "delivered", now)
    await _book(store, d, "settlement", "0.0500")
    await _book(store, d, "settlement", "0.0125")  # a second price replaces the first
    r = await _outbox(store, "c1", "read", now)
    await _book(store, r, "settlement", "0.0100")
    await _book(store, r, "release", "0.0525")
    # c1: states that do not count, even with a settlement booked.
    for state in ("queued", "sending", "failed", "in_doubt", "cancelled"):
        x = await _outbox(store, "c1", state, now)
        await _book(store, x, "settlement", "1.0")
    # c1: yesterday's send, settled today: neither the send nor its cost is today's.
    y = await _outbox(store, "c1", "read", midnight - dt.timedelta(minutes=1))
    await _book(store, y, "settlement", "1.0")

    # c2: one send, not settled yet (cost 0).
    await _outbox(store, "c2", "sent", now)
    # c3: only yesterday's sends: no row at all.
    await _outbox(store, "c3", "delivered", midnight - dt.timedelta(hours=3))

    ctx = ControlContext(
        cfg=cast(Any, SimpleNamespace(tz=TZ)), fleet=cast(Any, None), store=store, bus=Bus()
    )
    assert await refresh_daily(ctx)
    assert ctx.daily == {"c1": (4, 0.085), "c2": (1, 0.0)}


async def test_the_days_rows_come_from_the_created_at_index(store: Store) -> None:
    """A month of sends, 3,000 a day: the day's rows come from the BRIN index, not a filter over
    the whole outbox, and each one's settlement is an index lookup."""
    await store.execute("INSERT INTO wabas (waba_id) VALUES ('w1')")
    await store.execute(
        "INSERT INTO chips (phone_number_id, waba_id, display_number) VALUES ('c1', 'w1', '+1')"
    )
    await store.execute(
        "INSERT INTO outbox (chip, wa_id, kind, payload, state, created_at)"
        " SELECT 'c1', 'wa' || i, 'template', '{}', 'delivered',"
        "        now() - i * interval '1 day' / 3000 FROM generate_series(0, 89999) i"
    )
    await store.execute(
        "INSERT INTO budget_ledger (outbox_id, kind, category, amount_usd, ref)"
        " SELECT o.id, k, 'marketing', 0.0625, 'o:' || o.id FROM outbox o,"
        " unnest(ARRAY['reservation', 'settlement']) k"
    )
    await store.execute("ANALYZE outbox")
    await store.execute("ANALYZE budget_ledger")
    rows = await store.fetch("EXPLAIN " + DAILY_SQL, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    text = "\n".join(r[0] for r in rows)
    assert "outbox_created_at_idx" in text, text
    assert "Seq Scan on outbox" not in text, text
    assert "budget_ledger_outbox_id_idx" in text, text
