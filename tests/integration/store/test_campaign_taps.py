"""A campaign's taps on real PostgreSQL: recorded once per message, by the database, and
found by index (migration 0017).

Why: "once" was a NOT EXISTS over every tap of every campaign at each tap, which two
daemons recording the same retried tap could both pass; campaign status counted a
campaign's taps by reading every campaign's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import trio

from config.model import StorageConfig
from daemon.campaigns.taps import RECORD_SQL
from daemon.store import Store, migrate, open_store
from daemon.store.campaigns import PROGRESS_SQL, RecipientInput
from daemon.store.migrate import MIGRATIONS_DIR
from tests.integration.store.support import CHIP, running_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.trio]


async def _tap(store: Store, campaign: str, wamid: str) -> bool:
    new = await store.fetchval(RECORD_SQL, campaign, {"wamid": wamid, "ref": "V1"})
    return new is not None


async def test_a_tap_is_recorded_once_even_when_two_record_it_at_once(store: Store) -> None:
    await running_campaign(store, ["r1"])
    recorded: list[bool] = []

    async def tap() -> None:
        recorded.append(await _tap(store, "c1", "wamid.1"))

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(tap)
    assert sorted(recorded) == [False, False, False, True]
    assert await _tap(store, "c1", "wamid.2")
    assert await _tap(store, "other", "wamid.1")  # the same message, another campaign
    assert (await store.campaigns.progress("c1"))["taps"] == 2


async def test_taps_name_the_recipient_they_answered(store: Store) -> None:
    """Through the message the tap replied to (a carousel part has its own key), else the
    campaign's first recipient of that number; oldest first; other campaigns' apart."""
    await running_campaign(store, [], "other")  # and the chip
    await store.campaigns.create(
        campaign_id="c1",
        spec={},
        file=None,
        cap_usd=None,
        recipients=[  # two carousel parts to one number, then another number
            RecipientInput("crm1#1", "5511900000001", {}, 1, 0),
            RecipientInput("crm1#2", "5511900000001", {}, 1, 1),
            RecipientInput("crm2", "5511900000002", {}, 2),
        ],
    )
    await store.execute(
        "INSERT INTO outbox (chip, wa_id, kind, payload, state, campaign_id, recipient_id,"
        " wamid) VALUES ($1, '5511900000001', 'template', '{}', 'read', 'c1', 'crm1#2',"
        " 'wamid.out.2')",
        CHIP,
    )

    async def tap(wamid: str, data: dict[str, str], campaign: str = "c1") -> None:
        await store.fetchval(RECORD_SQL, campaign, {"wamid": wamid, "chip": CHIP, **data})

    await tap("in.1", {"ref": "V2", "wa_id": "5511900000001", "context": "wamid.out.2",
                       "text": "Quero"})  # fmt: skip
    await tap("in.2", {"ref": "V7", "wa_id": "5511900000002"})  # no context: by number
    await tap("in.3", {"ref": "V9", "wa_id": "5511999999999"})  # nobody of this campaign
    await tap("in.4", {"ref": "V1", "wa_id": "5511900000002"}, campaign="other")
    taps = await store.campaigns.taps("c1")
    assert [(t.recipient, t.wa_id, t.ref, t.text) for t in taps] == [
        ("crm1#2", "5511900000001", "V2", "Quero"),
        ("crm2", "5511900000002", "V7", None),
        (None, "5511999999999", "V9", None),
    ]
    assert taps[0].chip == CHIP
    assert taps[0].at <= taps[1].at <= taps[2].at


async def test_a_campaigns_taps_are_counted_by_index(store: Store) -> None:
    await store.execute(
        "INSERT INTO events (kind, subject, data) SELECT 'campaign.tap', 'c' || (g % 100),"
        " jsonb_build_object('wamid', 'w' || g) FROM generate_series(1, 20000) g"
    )
    await store.execute("ANALYZE events")
    plan = "\n".join(r[0] for r in await store.fetch("EXPLAIN " + PROGRESS_SQL, "c7"))
    assert "events_campaign_tap_key" in plan


async def test_the_migration_keeps_the_first_of_duplicate_taps(
    empty_db_dsn: str, tmp_path: Path
) -> None:
    """Duplicates a race let in before it would stop the unique index: the oldest stays."""
    before = tmp_path / "before"
    before.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) < 17:
            shutil.copy(path, before / path.name)
    cfg = StorageConfig(dsn=empty_db_dsn)
    async with open_store(cfg, state_dir=tmp_path, run_migrations=False) as store:
        await migrate(store, directory=before)
        await store.execute(
            "INSERT INTO events (kind, subject, data) VALUES"
            " ('campaign.tap', 'c1', '{\"wamid\": \"w1\", \"n\": 1}'),"
            " ('campaign.tap', 'c1', '{\"wamid\": \"w1\", \"n\": 2}'),"
            " ('campaign.tap', 'c1', '{\"wamid\": \"w2\", \"n\": 3}'),"
            " ('waba_effect', 'c1', '{\"wamid\": \"w1\", \"n\": 4}')"
        )
        through = tmp_path / "through"
        through.mkdir()
        for path in MIGRATIONS_DIR.glob("*.sql"):
            if int(path.name[:4]) <= 17:
                shutil.copy(path, through / path.name)
        assert await migrate(store, directory=through) == [17]
        kept = await store.fetch("SELECT data ->> 'n' AS n FROM events ORDER BY id")
        assert [r["n"] for r in kept] == ["1", "3", "4"]
