"""Reports' money on real PostgreSQL: what the budget ledger counts, found by index.

Why: the send report used to add up every settlement of a message (a second price
counted twice, where the ledger replaces the first) and found them by ``ref``, which has
no index: a scan of the whole budget journal for every message in the period. A
campaign's figures scanned the whole journal for its entries, at every status call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from daemon.store import Store
from daemon.store.analytics import _sql, report
from daemon.store.campaigns import PROGRESS_SQL
from tests.integration.store.support import CHIP, running_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.trio]


async def _sent(store: Store, prices: tuple[str, ...]) -> None:
    outbox_id = await store.fetchval(
        "INSERT INTO outbox (chip, wa_id, kind, payload, state)"
        " VALUES ($1, '5511900000000', 'text', '{}', 'read') RETURNING id",
        CHIP,
    )
    for kind, amount in [("reservation", "0.0625")] + [("settlement", p) for p in prices]:
        await store.execute(
            "INSERT INTO budget_ledger (kind, ref, outbox_id, category, amount_usd)"
            " VALUES ($1, 'o:' || $2::bigint, $2::bigint, 'marketing', $3::numeric)",
            kind,
            outbox_id,
            amount,
        )


async def test_cost_is_each_messages_latest_price(store: Store) -> None:
    await running_campaign(store, [])
    await _sent(store, ("0.0625", "0.0500"))  # recategorised: the second price holds
    await _sent(store, ("0.0625",))
    await _sent(store, ())  # not priced yet
    (row,) = await report(store, by="chip", days=1, now=dt.datetime.now(dt.UTC))
    assert (row["chip"], row["sent"]) == (CHIP, 3)
    assert row["cost_usd"] == pytest.approx(0.1125)


async def _failed(store: Store, error: dict[str, Any]) -> None:
    await store.execute(
        "INSERT INTO outbox (chip, wa_id, kind, payload, state, error)"
        " VALUES ($1, '5511900000000', 'text', '{}', 'failed', $2)",
        CHIP,
        error,
    )


async def test_failures_count_by_the_code_of_a_status_or_of_the_chips_reason(
    store: Store,
) -> None:
    """A send Meta refused on the request stores only the chip's reason
    (``fix_request: 132000: …``); its code counts, not ``none``."""
    await running_campaign(store, [])
    await _failed(store, {"code": 131026, "title": "undeliverable"})  # a status webhook's
    await _failed(store, {"reason": "fix_request: 132000: parameter count mismatch"})
    await _failed(store, {"reason": "fix_request: 132000: parameter count mismatch"})
    await _failed(store, {"reason": "retry_backoff: ReadTimeout: timed out"})  # no code
    await _failed(store, {"reason": "expired"})
    (row,) = await report(store, by="chip", days=1, now=dt.datetime.now(dt.UTC))
    assert row["failed_by_code"] == {"131026": 1, "132000": 2, "none": 2}
    assert row["fail_codes"] == ["131026", "132000"]


async def test_cost_is_found_by_the_outbox_id_index(store: Store) -> None:
    await store.execute(
        "INSERT INTO budget_ledger (kind, ref, category, amount_usd)"
        " SELECT 'settlement', 'x:' || g, 'marketing', 0.01 FROM generate_series(1, 20000) g"
    )
    await store.execute("ANALYZE budget_ledger")
    main, _, _ = _sql("chip")
    plan = "\n".join(
        r[0]
        for r in await store.fetch(
            "EXPLAIN " + main,
            dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
            dt.datetime.now(dt.UTC),
        )
    )
    assert "budget_ledger_outbox_id_idx" in plan


async def test_campaign_figures_find_its_entries_by_index(store: Store) -> None:
    await store.execute(
        "INSERT INTO budget_ledger (kind, ref, category, amount_usd, campaign_id)"
        " SELECT 'settlement', 'x:' || g, 'marketing', 0.01, 'other-' || (g % 50)"
        " FROM generate_series(1, 20000) g"
    )
    await store.execute("ANALYZE budget_ledger")
    plan = "\n".join(r[0] for r in await store.fetch("EXPLAIN " + PROGRESS_SQL, "c1"))
    assert "budget_ledger_campaign_id_idx" in plan
