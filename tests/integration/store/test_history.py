"""Message history pruning against the real schema: old finished messages go, nothing a
budget, an operator or a running campaign still needs does, and a campaign keeps its
figures.

Why against PostgreSQL: the rules are SQL (which rows a statement picks, foreign keys
checked at the end of a statement, budget entries deleted only with their row, batches
that each commit, two pruners at once). Rows are aged with the server's clock, the one
pruning measures with.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import trio

from daemon.store import Store
from daemon.store.campaigns import PROGRESS_SQL
from daemon.store.history import HistoryRepository
from daemon.store.outbox import StatusChange
from tests.integration.store.support import CHIP, running_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.trio]

DAY = dt.timedelta(days=1)
KEEP = 60 * DAY
OLD = KEEP + 5 * DAY


def _history(store: Store) -> HistoryRepository:
    return HistoryRepository(store, PROGRESS_SQL)


async def _message(
    store: Store,
    state: str,
    age: dt.timedelta,
    *,
    campaign: str | None = None,
    recipient: str | None = None,
    ledger: tuple[str, ...] = ("reservation", "settlement"),
) -> int:
    """An outbox row created and last changed ``age`` ago, with budget entries ``ledger``."""
    outbox_id: int = await store.fetchval(
        "INSERT INTO outbox (chip, wa_id, kind, payload, state, campaign_id, recipient_id,"
        " created_at, updated_at)"
        " VALUES ($1, '5511900000000', 'template', '{}', $2, $3, $4,"
        " now() - $5::interval, now() - $5::interval) RETURNING id",
        CHIP,
        state,
        campaign,
        recipient,
        age,
    )
    for kind in ledger:
        await store.execute(
            "INSERT INTO budget_ledger (kind, ref, outbox_id, category, amount_usd, at,"
            " campaign_id) VALUES ($1, $2, $3, 'marketing', $4, now() - $5::interval, $6)",
            kind,
            f"o:{outbox_id}",
            outbox_id,
            Decimal("0.0625"),
            age,
            campaign,
        )
    if recipient is not None:
        await store.execute(
            "UPDATE campaign_recipients SET state = 'handed', outbox_id = $3"
            " WHERE campaign_id = $1 AND recipient_key = $2",
            campaign,
            recipient,
            outbox_id,
        )
    return outbox_id


async def _tap(store: Store, campaign_id: str, wamid: str) -> None:
    """A tap as daemon/campaigns/taps.py records it."""
    await store.execute(
        "INSERT INTO events (kind, subject, data) VALUES ('campaign.tap', $1, $2::jsonb)",
        campaign_id,
        f'{{"wamid": "{wamid}"}}',
    )


async def _taps(store: Store) -> dict[str, int]:
    rows = await store.fetch(
        "SELECT subject, count(*) FROM events WHERE kind = 'campaign.tap' GROUP BY subject"
    )
    return {r[0]: r[1] for r in rows}


async def _ids(store: Store, sql: str, *args: object) -> set[object]:
    return {r[0] for r in await store.fetch(sql, *args)}


async def _entries_of(store: Store, outbox_id: int) -> int:
    n: int = await store.fetchval(
        "SELECT count(*) FROM budget_ledger WHERE outbox_id = $1", outbox_id
    )
    return n


async def _finish(store: Store, campaign_id: str, state: str, ago: dt.timedelta) -> None:
    await store.campaigns.set_state(campaign_id, state)
    await store.execute(
        "UPDATE campaigns SET finished_at = now() - $2::interval WHERE id = $1", campaign_id, ago
    )


async def test_finished_messages_past_the_retention_go_with_their_budget_entries(
    store: Store,
) -> None:
    await running_campaign(store, ["r1"])
    gone = {
        await _message(store, state, OLD)
        for state in ("accepted", "sent", "delivered", "read", "failed")
    }
    gone.add(await _message(store, "cancelled", OLD, ledger=("reservation", "release")))
    gone.add(await _message(store, "read", OLD, ledger=()))
    gone.add(await _message(store, "read", OLD, ledger=("reservation", "settlement") * 2))
    held = await _message(store, "delivered", OLD, ledger=("reservation",))
    # A re-send reserved again after its first attempt was released: open again.
    resent = await _message(store, "sent", OLD, ledger=("reservation", "release", "reservation"))
    kept = {
        held,
        resent,
        await _message(store, "in_doubt", OLD),
        await _message(store, "queued", OLD, ledger=("reservation",)),
        await _message(store, "sending", OLD, ledger=("reservation",)),
        await _message(store, "read", KEEP - DAY),
        await _message(store, "read", OLD, campaign="c1", recipient="r1"),
    }

    pruned = await _history(store).prune(KEEP, batch_rows=2)

    assert pruned.complete
    assert pruned.rows == {"outbox": 8, "budget_ledger": 16, "campaign_recipients": 0, "events": 0}
    assert await _ids(store, "SELECT id FROM outbox") == kept
    assert await _ids(store, "SELECT DISTINCT outbox_id FROM budget_ledger") == kept
    assert await _entries_of(store, held) == 1  # the open reservation is still there
    again = await _history(store).prune(KEEP, batch_rows=2)
    assert again.rows == dict.fromkeys(again.rows, 0)


async def test_a_late_status_for_a_pruned_message_changes_nothing(store: Store) -> None:
    await running_campaign(store, [])
    outbox_id = await _message(store, "delivered", OLD)
    await _history(store).prune(KEEP, batch_rows=10)
    applied = await store.outbox.apply_statuses(
        [StatusChange(wamid="wamid.gone", status="read", outbox_id=outbox_id, error=None)]
    )
    assert applied == []
    assert await _ids(store, "SELECT id FROM outbox") == set()


async def test_budget_entries_of_no_message_go_by_age(store: Store) -> None:
    for age in (OLD, OLD, KEEP - DAY):
        await store.execute(
            "INSERT INTO budget_ledger (kind, ref, category, amount_usd, at)"
            " VALUES ('settlement', 'x:1', 'utility', 0.01, now() - $1::interval)",
            age,
        )
    pruned = await _history(store).prune(KEEP, batch_rows=1)
    assert pruned.rows["budget_ledger"] == 2
    assert await store.fetchval("SELECT count(*) FROM budget_ledger") == 1


async def _campaign_with_history(store: Store, campaign_id: str) -> None:
    """Five recipients: four messaged (one in each finished state), one skipped; taps
    on the buttons of three messages."""
    keys = [f"{campaign_id}-{n}" for n in range(5)]
    await running_campaign(store, keys, campaign_id)
    for key, state in zip(keys, ("sent", "delivered", "read", "failed"), strict=False):
        await _message(store, state, OLD, campaign=campaign_id, recipient=key)
    for n in range(3):
        await _tap(store, campaign_id, f"wamid.{campaign_id}.{n}")
    await store.execute(
        "UPDATE campaign_recipients SET state = 'skipped' WHERE campaign_id = $1"
        " AND recipient_key = $2",
        campaign_id,
        keys[-1],
    )


async def test_a_campaign_over_for_the_retention_keeps_its_figures_and_loses_its_rows(
    store: Store,
) -> None:
    await _campaign_with_history(store, "c1")
    await _finish(store, "c1", "finished", OLD)
    before = await store.campaigns.progress("c1")
    assert (before["sent"], before["delivered"], before["read"], before["failed"]) == (4, 2, 1, 1)
    assert before["skipped"] == 1
    assert before["spent"] == pytest.approx(0.25)
    assert before["reserved"] == 0  # every reservation was settled
    assert before["taps"] == 3
    await _tap(store, "other", "wamid.other.0")  # another campaign's tap stays

    pruned = await _history(store).prune(KEEP, batch_rows=2)

    assert (pruned.frozen, pruned.complete) == (1, True)
    assert pruned.rows == {
        "outbox": 4,
        "budget_ledger": 8,
        "campaign_recipients": 5,
        "events": 3,
    }
    after = await store.campaigns.progress("c1")
    assert after.pop("history_pruned") is True
    assert after == pytest.approx(before)
    for table in ("outbox", "campaign_recipients", "budget_ledger"):
        assert await store.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    assert await _taps(store) == {"other": 1}
    row = await store.campaigns.get("c1")
    assert row is not None
    assert row.state == "finished"
    # Its name still cannot be started again: the campaign row stays.
    assert not await store.campaigns.create(
        campaign_id="c1", spec={}, file=None, cap_usd=None, recipients=[]
    )
    again = await _history(store).prune(KEEP, batch_rows=2)
    assert (again.frozen, again.rows["outbox"]) == (0, 0)


async def test_taps_an_earlier_version_left_behind_a_pruned_campaign_go(
    store: Store,
) -> None:
    """Before taps went with the history, a pruned campaign kept them; the next run,
    finding them, deletes them and leaves the frozen figures alone."""
    await _campaign_with_history(store, "c1")
    await _finish(store, "c1", "finished", OLD)
    await store.execute(
        f"UPDATE campaigns c SET summary = to_jsonb(p) FROM ({PROGRESS_SQL}) p WHERE c.id = $1",
        "c1",
    )
    for table in ("campaign_recipients", "budget_ledger", "outbox"):
        await store.execute(f"DELETE FROM {table}")
    frozen = await store.campaigns.progress("c1")

    pruned = await _history(store).prune(KEEP, batch_rows=2)

    assert (pruned.frozen, pruned.rows["events"], pruned.complete) == (0, 3, True)
    assert await _taps(store) == {}
    assert await store.campaigns.progress("c1") == frozen


async def test_campaign_figures_count_each_message_as_the_budget_ledger_does(
    store: Store,
) -> None:
    """Spent is each message's latest price (a second price replaces the first) and
    reserved its reservation while nothing closed it; a re-send may reserve again."""
    keys = ["twice", "open", "resent", "released"]
    await running_campaign(store, keys)
    ledgers = {
        "twice": ("reservation", "settlement", "settlement"),
        "open": ("reservation",),
        "resent": ("reservation", "release", "reservation"),
        "released": ("reservation", "release"),
    }
    for key in keys:
        await _message(store, "sent", DAY, campaign="c1", recipient=key, ledger=ledgers[key])
    await store.execute(
        "UPDATE budget_ledger SET amount_usd = 0.05 WHERE id ="
        " (SELECT max(id) FROM budget_ledger WHERE kind = 'settlement')"
    )
    figures = await store.campaigns.progress("c1")
    assert figures["spent"] == pytest.approx(0.05)
    assert figures["reserved"] == pytest.approx(2 * 0.0625)


@pytest.mark.parametrize(
    ("state", "ago", "why"),
    [
        ("running", None, "running"),
        ("paused", None, "paused"),
        ("finished", KEEP - DAY, "over for less than the retention"),
        ("cancelled", KEEP - DAY, "cancelled for less than the retention"),
    ],
)
async def test_a_campaign_not_over_for_the_retention_keeps_everything(
    store: Store, state: str, ago: dt.timedelta | None, why: str
) -> None:
    await _campaign_with_history(store, "c1")
    if ago is None:
        await store.campaigns.set_state("c1", state)
    else:
        await _finish(store, "c1", state, ago)
    pruned = await _history(store).prune(KEEP, batch_rows=2)
    assert (pruned.frozen, sum(pruned.rows.values())) == (0, 0), why
    assert await store.fetchval("SELECT summary FROM campaigns WHERE id = 'c1'") is None


@pytest.mark.parametrize(
    ("state", "ledger"),
    [("in_doubt", ("reservation",)), ("sending", ("reservation",)), ("read", ("reservation",))],
)
async def test_a_campaign_waits_while_a_message_is_open(
    store: Store, state: str, ledger: tuple[str, ...]
) -> None:
    """In doubt (the operator's), live, or holding budget: nothing of it goes yet."""
    await _campaign_with_history(store, "c1")
    await store.execute(
        "INSERT INTO campaign_recipients (campaign_id, recipient_key, wa_id, seq)"
        " VALUES ('c1', 'open', '5511911111111', 9)"
    )
    await _message(store, state, OLD, campaign="c1", recipient="open", ledger=ledger)
    await _finish(store, "c1", "cancelled", OLD)
    pruned = await _history(store).prune(KEEP, batch_rows=2)
    assert (pruned.frozen, sum(pruned.rows.values())) == (0, 0)


async def test_two_pruners_at_once_delete_each_row_once(store: Store) -> None:
    for campaign_id in ("c1", "c2", "c3"):
        await _campaign_with_history(store, campaign_id)
        await _finish(store, campaign_id, "finished", OLD)
    for _ in range(9):
        await _message(store, "read", OLD)
    results = []

    async def prune() -> None:
        results.append(await _history(store).prune(KEEP, batch_rows=2))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(prune)
        nursery.start_soon(prune)

    assert sum(r.frozen for r in results) == 3
    totals = {t: sum(r.rows[t] for r in results) for t in results[0].rows}
    assert totals == {
        "outbox": 12 + 9,
        "budget_ledger": 2 * 21,
        "campaign_recipients": 15,
        "events": 9,
    }
    for campaign_id in ("c1", "c2", "c3"):
        figures = await store.campaigns.progress(campaign_id)
        assert (figures["sent"], figures["history_pruned"]) == (4, True)


async def test_a_message_changed_while_being_pruned_keeps_its_budget_entries(
    store: Store,
) -> None:
    """A late status webhook that touches a row while pruning deletes it wins: the row
    stays (checked again on the row deleted) and so do its budget entries, which go only
    with a row the delete took."""
    await running_campaign(store, [])
    outbox_id = await _message(store, "delivered", OLD)
    result = []

    async def prune() -> None:
        result.append(await _history(store).prune(KEEP, batch_rows=10))

    async with trio.open_nursery() as nursery, store.transaction() as con:
        await con.execute(
            "UPDATE outbox SET state = 'read', updated_at = now() WHERE id = $1", outbox_id
        )
        nursery.start_soon(prune)
        await trio.sleep(0.5)
        assert not result  # its delete waits for the row this transaction updated
    (pruned,) = result
    assert pruned.rows["outbox"] == 0
    assert await _ids(store, "SELECT id FROM outbox") == {outbox_id}
    assert await _entries_of(store, outbox_id) == 2


async def test_a_campaign_message_no_recipient_names_goes_too(store: Store) -> None:
    """Written by an older version, say: once the recipients are gone, the campaign's
    outbox rows left go with their entries, so nothing of it is kept for ever."""
    await running_campaign(store, ["r1"])
    await _message(store, "read", OLD, campaign="c1", recipient="r1")
    await _message(store, "read", OLD, campaign="c1", recipient="ghost")
    await _finish(store, "c1", "finished", OLD)
    pruned = await _history(store).prune(KEEP, batch_rows=1)
    assert pruned.rows == {"outbox": 2, "budget_ledger": 4, "campaign_recipients": 1, "events": 0}
    assert await store.fetchval("SELECT count(*) FROM outbox") == 0
