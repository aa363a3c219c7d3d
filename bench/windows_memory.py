"""Memory and restart time of 1,000,000 conversation windows over 50 chips (issue M3).

Prints, one per line (``name=value``):
  load_rows_per_s  rate of the setup's binary COPY into ``windows`` (not a goal)
  rebuild_s        ``ChipActor.load()`` of the 50 chips one after another, as the
                   supervisor starts them (each child's ``started`` follows its load)
  windows          windows the 50 WindowBooks hold after the rebuild (must be 1000000)
  rss_base_mb      resident set before the rebuild (interpreter, pool, bridge thread)
  rss_mb           resident set after the rebuild (``VmRSS`` after ``gc.collect()``)
  rss_peak_mb      peak resident set of the process (``VmHWM``; the setup included)
Goals: rss_mb <= 300, rebuild_s <= 10.

What it does: opens a real PostgreSQL — ``--dsn``, else ``METAD_TEST_DSN``, else a
throwaway embedded server in a temp dir. On an external server it creates a fresh
``metad_bench_<random>`` database and drops it at the end. Migrations run, 50 chips are
saved through ``ChipRepository`` (their WABA rows come with them), then 20,000 contacts
per chip get one window each: distinct Brazilian mobile ``wa_id``s (``55119`` + 8
digits; no key is shared between chips, the worst case for memory), a quarter of them
free-entry windows and the rest service windows, expiring between 10 min and 24 h from
now. The rows go in by COPY, one chip at a time so the setup does not inflate the peak.
Then 50 ``ChipActor``s are built exactly as ``daemon.fleet`` builds them (real
``ChipRepository`` and ``ChipJournalRepository``, settings from config defaults, a Graph
stub that is never called during a load) and loaded in the same process.

Usage: ``python bench/windows_memory.py [--dsn postgresql://...] [--chips 50]
[--contacts 20000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import random
import secrets
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.chip import ChipActor, ChipMsg, ChipSettings
from actors.ports import ChipRecord, PortOutcome, SendInDoubt
from config.model import LimitsConfig, QualityConfig, StorageConfig, WindowsConfig
from daemon.store import Store, open_store
from tests.support import embedded_state_dir

WABAS = 5
FREE_ENTRY_EVERY = 4
"""Every fourth contact's window is a free-entry one, the others service windows."""
MIN_LEFT_S = 600.0
SPREAD_S = 86_400.0
_HOURS = {"service": 24.0, "free_entry": 72.0}


class StubGraph:
    """The Graph API as far as a chip's load needs it: not at all."""

    async def send(
        self, phone_number_id: str, payload: Mapping[str, Any], callback_data: str
    ) -> PortOutcome:
        return SendInDoubt("bench stub")

    async def phone_number(self, phone_number_id: str) -> Mapping[str, object]:
        return {}


def _memory_kb(field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of this process from ``/proc/self/status``, in kB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _rss_mb() -> float:
    gc.collect()
    return _memory_kb("VmRSS") / 1024


def _with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


def _chip_id(i: int) -> str:
    return f"2000000000{i:05d}"


def _record(i: int) -> ChipRecord:
    return ChipRecord(
        phone_number_id=_chip_id(i),
        waba_id=f"1000000000000{i % WABAS:02d}",
        display_number=f"+55 11 94{i:03d}-0000",
    )


def _window_rows(chip: int, contacts: int, now: float, rng: random.Random) -> list[tuple[Any, ...]]:
    pnid = _chip_id(chip)
    utc = dt.UTC
    stamp = dt.datetime.fromtimestamp
    rows: list[tuple[Any, ...]] = []
    for j in range(contacts):
        kind = "free_entry" if j % FREE_ENTRY_EVERY == 0 else "service"
        expires = now + MIN_LEFT_S + rng.random() * SPREAD_S
        opened = expires - _HOURS[kind] * 3600.0
        wa_id = f"55119{chip * contacts + j:08d}"
        rows.append((pnid, wa_id, kind, stamp(opened, utc), stamp(expires, utc)))
    return rows


@asynccontextmanager
async def bench_store(dsn: str) -> AsyncIterator[Store]:
    """A migrated store on a database nobody else uses; removed afterwards."""
    if not dsn:
        with embedded_state_dir() as state_dir:
            async with open_store(StorageConfig(dsn=""), state_dir=state_dir) as store:
                yield store
        return
    admin_cfg = StorageConfig(dsn=dsn, pool_min_size=1, pool_max_size=1)
    name = f"metad_bench_{secrets.token_hex(4)}"
    nowhere = Path("/nonexistent")
    async with open_store(admin_cfg, state_dir=nowhere, run_migrations=False) as admin:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        cfg = StorageConfig(dsn=_with_database(dsn, name))
        async with open_store(cfg, state_dir=nowhere) as store:
            yield store
    finally:
        with trio.CancelScope(shield=True):
            async with open_store(admin_cfg, state_dir=nowhere, run_migrations=False) as admin:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def load_windows(store: Store, chips: int, contacts: int) -> float:
    """Save the chips, COPY their windows; returns rows per second of the COPYs."""
    for i in range(chips):
        await store.chips.save(_record(i))
    rng = random.Random(20_000)
    now = time.time()
    copy_s = 0.0
    for i in range(chips):
        rows = _window_rows(i, contacts, now, rng)
        started = time.perf_counter()
        await store.copy_records(
            "windows", rows, ["chip", "wa_id", "kind", "opened_at", "expires_at"]
        )
        copy_s += time.perf_counter() - started
        del rows
    # What a running server has done by the time the daemon restarts (autovacuum).
    await store.execute("VACUUM (ANALYZE) windows")
    return chips * contacts / copy_s


async def rebuild(store: Store, chips: int) -> tuple[float, list[ChipActor]]:
    """Build and load the chip actors one after another; returns seconds and actors."""
    settings = ChipSettings(WindowsConfig(), LimitsConfig(), QualityConfig())
    graph = StubGraph()
    actors: list[ChipActor] = []
    started = time.perf_counter()
    for i in range(chips):
        _, inbox = trio.open_memory_channel[ChipMsg](64)
        actor = ChipActor(
            initial=_record(i),
            repo=store.chips,
            journal=store.chip_journal,
            graph=graph,
            settings=settings,
            inbox=inbox,
            now=time.time,
        )
        await actor.load()
        actors.append(actor)
    return time.perf_counter() - started, actors


async def run(dsn: str, chips: int, contacts: int) -> None:
    async with bench_store(dsn) as store:
        rows_per_s = await load_windows(store, chips, contacts)
        print(f"load_rows_per_s={rows_per_s:.0f}", flush=True)
        base = _rss_mb()
        rebuild_s, actors = await rebuild(store, chips)
        windows = sum(len(a.windows) for a in actors)
        rss = _rss_mb()
        peak = _memory_kb("VmHWM") / 1024
        print(f"rebuild_s={rebuild_s:.3f}")
        print(f"windows={windows}")
        print(f"rss_base_mb={base:.1f}")
        print(f"rss_mb={rss:.1f}")
        print(f"rss_peak_mb={peak:.1f}", flush=True)
        if windows != chips * contacts:
            raise SystemExit(f"expected {chips * contacts} windows, the books hold {windows}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn",
        default=os.environ.get("METAD_TEST_DSN", ""),
        help="PostgreSQL server to create a scratch database on (default: METAD_TEST_DSN,"
        " else an embedded server in a temp dir)",
    )
    parser.add_argument("--chips", type=int, default=50)
    parser.add_argument("--contacts", type=int, default=20_000, help="windows per chip")
    args = parser.parse_args()
    trio.run(run, args.dsn, args.chips, args.contacts)


if __name__ == "__main__":
    main()
