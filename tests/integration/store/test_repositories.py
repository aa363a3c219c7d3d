"""ChipRepository / WabaRepository against the real schema."""

from __future__ import annotations

import datetime as dt

import pytest

from actors.ports import ChipRecord, ChipRepo, WabaRecord, WabaRepo
from daemon.store import ChipRepository, Store, WabaRepository

pytestmark = [pytest.mark.postgres, pytest.mark.trio]


async def test_they_satisfy_the_ports(store: Store) -> None:
    chips: ChipRepo = store.chips
    wabas: WabaRepo = store.wabas
    assert isinstance(chips, ChipRepository)
    assert isinstance(wabas, WabaRepository)


async def test_waba_round_trip_and_update(store: Store) -> None:
    assert await store.wabas.load("100") is None
    await store.wabas.save(WabaRecord(waba_id="100", name="Acme"))
    loaded = await store.wabas.load("100")
    assert loaded is not None
    assert (loaded.name, loaded.status, loaded.restricted) == ("Acme", "ACTIVE", False)
    assert loaded.updated_at is not None
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    await store.wabas.save(
        WabaRecord(
            waba_id="100", name="Acme", status="RESTRICTED", restricted=True, updated_at=stamp
        )
    )
    assert await store.wabas.load("100") == WabaRecord(
        waba_id="100", name="Acme", status="RESTRICTED", restricted=True, updated_at=stamp
    )
    assert [w.waba_id for w in await store.wabas.all()] == ["100"]


async def test_chip_round_trip_creates_its_waba(store: Store) -> None:
    assert await store.chips.load("555") is None
    record = ChipRecord(
        phone_number_id="555",
        waba_id="200",
        display_number="+55 11 98765-4321",
        quality_rating="GREEN",
        paused=True,
        pause_reason="quality RED",
        updated_at=dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
    )
    await store.chips.save(record)
    assert await store.chips.load("555") == record
    assert await store.wabas.load("200") is not None  # stub keeps the foreign key
    changed = ChipRecord(
        phone_number_id="555",
        waba_id="200",
        display_number="+55 11 98765-4321",
        throughput_mps=20,
    )
    await store.chips.save(changed)
    loaded = await store.chips.load("555")
    assert loaded is not None
    assert (loaded.throughput_mps, loaded.paused, loaded.pause_reason) == (20, False, None)
    assert loaded.updated_at is not None
    assert [c.phone_number_id for c in await store.chips.all()] == ["555"]


async def test_repository_inside_a_transaction(store: Store) -> None:
    async def save_then_fail() -> None:
        async with store.transaction() as tx:
            await WabaRepository(tx).save(WabaRecord(waba_id="300"))
            assert await WabaRepository(tx).load("300") is not None
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        await save_then_fail()
    assert await store.wabas.load("300") is None
