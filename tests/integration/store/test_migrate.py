"""Migrations: applied once, in order, atomically, under concurrent starters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from actors.chip import wire
from actors.ports import ChipRecord
from config.model import StorageConfig
from daemon.store import Store, StoreError, migrate, open_store
from daemon.store.migrate import MIGRATIONS_DIR, load_migrations

EXPECTED_TABLES = {
    "budget_alerts",
    "budget_checkpoints",
    "budget_ledger",
    "campaign_recipients",
    "campaigns",
    "catalog_items",
    "chips",
    "contact_aliases",
    "contacts",
    "events",
    "job_runs",
    "keeper_marks",
    "media_cache",
    "otp_codes",
    "outbox",
    "quality_transitions",
    "schema_migrations",
    "shift_confirmations",
    "template_recommendations",
    "templates",
    "wabas",
    "webhook_handoff",
    "webhook_inbox",
    "webhook_orphans",
    "webhook_pruned_counts",
    "webhook_seen",
    "windows",
}
ALL_VERSIONS = sorted(int(p.name[:4]) for p in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def test_bundled_migrations_are_numbered_from_one() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_misnamed_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "1_initial.sql").write_text("SELECT 1;")
    with pytest.raises(StoreError, match="NNNN_name"):
        load_migrations(tmp_path)


async def _tables(store: Store) -> set[str]:
    rows = await store.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows}


def _cfg(dsn: str) -> StorageConfig:
    return StorageConfig(dsn=dsn)


@pytest.mark.postgres
@pytest.mark.trio
async def test_migrate_is_idempotent(empty_db_dsn: str, tmp_path: Path) -> None:
    async with open_store(_cfg(empty_db_dsn), state_dir=tmp_path, run_migrations=False) as store:
        assert await migrate(store) == ALL_VERSIONS
        assert await migrate(store) == []
        assert await _tables(store) == EXPECTED_TABLES
        row = await store.fetchrow(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version LIMIT 1"
        )
        assert row is not None
        assert (row["version"], row["name"]) == (1, "initial")
    # open_store migrates by itself, and finds nothing left to do.
    async with open_store(_cfg(empty_db_dsn), state_dir=tmp_path) as store:
        assert await migrate(store) == []


@pytest.mark.postgres
@pytest.mark.trio
async def test_concurrent_migrators_apply_once(empty_db_dsn: str, tmp_path: Path) -> None:
    results: list[list[int]] = []

    async def one_daemon() -> None:
        cfg = _cfg(empty_db_dsn)
        async with open_store(cfg, state_dir=tmp_path, run_migrations=False) as store:
            results.append(await migrate(store))

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(one_daemon)
    assert sorted(results) == [[], [], [], [], ALL_VERSIONS]


@pytest.mark.postgres
@pytest.mark.trio
async def test_failed_migration_rolls_back_alone(empty_db_dsn: str, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_first.sql").write_text("CREATE TABLE one (id int);")
    (migrations / "0002_broken.sql").write_text(
        "CREATE TABLE two (id int);\nINSERT INTO nowhere VALUES (1);"
    )
    async with open_store(_cfg(empty_db_dsn), state_dir=tmp_path, run_migrations=False) as store:
        with pytest.raises(StoreError, match=r"0002_broken failed: .*nowhere"):
            await migrate(store, directory=migrations)
        assert await _tables(store) == {"one", "schema_migrations"}
        assert await store.fetchval("SELECT array_agg(version) FROM schema_migrations") == [1]
        (migrations / "0002_broken.sql").write_text("CREATE TABLE two (id int);")
        assert await migrate(store, directory=migrations) == [2]


@pytest.mark.trio
async def test_codes_sent_before_the_chip_masked_them_are_masked(
    empty_db_dsn: str, tmp_path: Path
) -> None:
    """Migration 0021: what the chip now journals (actors.chip.wire.masked), applied to
    the rows written before; other templates are left as they were."""
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < "0021":
            (before / path.name).write_text(path.read_text())
    code = {
        "name": "codigo_verificacao",
        "language": {"code": "pt_BR"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "446488"}]},
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": "446488"}],
            },
        ],
    }
    other = {
        "name": "vaga",
        "language": {"code": "pt_BR"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
    }
    async with open_store(_cfg(empty_db_dsn), state_dir=tmp_path, run_migrations=False) as store:
        await migrate(store, directory=before)
        await store.chips.save(ChipRecord(phone_number_id="1", waba_id="2", display_number="+1"))
        ids = {}
        for name, template, category in (
            ("code", code, "authentication"),
            ("other", other, "utility"),
        ):
            ids[name] = await store.fetchval(
                "INSERT INTO outbox (chip, wa_id, kind, payload, decision, state)"
                " VALUES ('1', '5511900000001', 'template', $1, $2, 'read') RETURNING id",
                {"messaging_product": "whatsapp", "type": "template", "template": template},
                {"method": "template", "category": category},
            )
        (before / "0021_mask_stored_codes.sql").write_text(
            (MIGRATIONS_DIR / "0021_mask_stored_codes.sql").read_text()
        )
        assert await migrate(store, directory=before) == [21]
        stored = {
            name: await store.fetchval("SELECT payload FROM outbox WHERE id = $1", ident)
            for name, ident in ids.items()
        }
    assert stored["code"] == wire.masked(
        {"messaging_product": "whatsapp", "type": "template", "template": code}
    )
    assert "446488" not in json.dumps(stored["code"])
    assert stored["other"]["template"] == other
