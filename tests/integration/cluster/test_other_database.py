"""Two fleets on one PostgreSQL server, each in its own database, do not see each other.

Why: advisory locks are per database but ``pg_locks`` and ``pg_stat_activity`` are
server-wide. Read without a database filter, a daemon of another fleet (a staging copy
beside production, another customer) counted as a node of this one and as the owner of
the chips it held there, and each fleet left those chips unserved.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trio

from config.model import StorageConfig
from daemon.cluster import Leases
from daemon.store import Store, open_store
from tests.integration.conftest import _scratch_database

LEASE_S = 0.6


@pytest.fixture
def other_dsn(pg_admin_dsn: str, pg_template: str) -> Iterator[str]:
    yield from _scratch_database(pg_admin_dsn, pg_template)


@pytest.fixture
async def other_store(other_dsn: str, tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(StorageConfig(dsn=other_dsn), state_dir=tmp_path / "other") as opened:
        yield opened


async def test_a_fleet_in_another_database_is_not_a_peer(store: Store, other_store: Store) -> None:
    here = Leases(store, node_id="here", chips=["1", "2"], mode="all", lease_s=LEASE_S)
    there = Leases(other_store, node_id="there", chips=["1", "2"], mode="all", lease_s=LEASE_S)
    async with trio.open_nursery() as nursery:
        await nursery.start(here.run)
        await nursery.start(there.run)
        await trio.sleep(LEASE_S * 3)  # a few renewals: each has seen the other's locks
        seen = [(lease.held, lease.nodes, lease.owner("1")) for lease in (here, there)]
        nursery.cancel_scope.cancel()
    assert seen == [
        ({"1", "2"}, frozenset({"here"}), "here"),
        ({"1", "2"}, frozenset({"there"}), "there"),
    ]
