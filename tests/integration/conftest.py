"""Integration fixtures: a real PostgreSQL and one throwaway database per test.

Why real PostgreSQL: storage is SQL, constraints and cancellation semantics; a fake
would test the fake. The server is ``METAD_TEST_DSN`` when set (e.g. a CI service),
else a private embedded server in a temp dir for the session. Each run migrates one
template database named after its pid and a random token, and each test gets a copy
(``CREATE DATABASE ... TEMPLATE``), dropped afterwards, so parallel runs and tests never
see each other's rows.

The session fixtures are sync (pytest-trio async fixtures live inside one test's trio
run); admin SQL runs in a short ``trio.run`` of its own. Trio tests use ``store`` /
``db_dsn`` and are marked ``@pytest.mark.trio`` explicitly (trio_mode is off).
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import trio

from config.model import StorageConfig
from daemon.store import Store, open_store
from daemon.store.embedded import start_embedded_blocking
from tests.support import embedded_state_dir

_RUN_TAG = f"metad_test_{os.getpid()}_{secrets.token_hex(3)}"
_counter = itertools.count(1)


def with_database(dsn: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def admin_sql(dsn: str, *statements: str) -> None:
    """Run statements (CREATE/DROP DATABASE: no transaction) from sync code."""

    async def run() -> None:
        cfg = StorageConfig(dsn=dsn, pool_min_size=1, pool_max_size=1)
        async with open_store(cfg, state_dir=Path("/nonexistent"), run_migrations=False) as db:
            for sql in statements:
                await db.execute(sql)

    trio.run(run)


@pytest.fixture
def pg_state_dir() -> Iterator[Path]:
    """A state directory for tests that start their own embedded server."""
    with embedded_state_dir() as path:
        yield path


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    """DSN of a server where this run may create and drop databases."""
    external = os.environ.get("METAD_TEST_DSN", "")
    if external:
        yield external
        return
    with embedded_state_dir() as path:
        server = start_embedded_blocking(path)
        try:
            yield server.dsn
        finally:
            server.stop_blocking()


@pytest.fixture(scope="session")
def pg_template(pg_admin_dsn: str) -> Iterator[str]:
    """Name of this run's migrated template database.

    Numbered: another test directory that imports these fixtures (tests/reliability)
    gets a session instance of its own on the same server, and needs its own name."""
    name = f"{_RUN_TAG}_tpl{next(_counter)}"
    admin_sql(pg_admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:

        async def run_migrations() -> None:
            cfg = StorageConfig(dsn=with_database(pg_admin_dsn, name), pool_min_size=1)
            async with open_store(cfg, state_dir=Path("/nonexistent")):
                pass

        trio.run(run_migrations)
        yield name
    finally:
        admin_sql(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _scratch_database(admin_dsn: str, template: str) -> Iterator[str]:
    name = f"{_RUN_TAG}_{next(_counter)}"
    admin_sql(admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield with_database(admin_dsn, name)
    finally:
        admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_dsn(pg_admin_dsn: str, pg_template: str) -> Iterator[str]:
    """DSN of a fresh, migrated database for this test only."""
    yield from _scratch_database(pg_admin_dsn, pg_template)


@pytest.fixture
def empty_db_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """DSN of a fresh database without any schema (for migration tests)."""
    yield from _scratch_database(pg_admin_dsn, "template0")


@pytest.fixture
async def store(db_dsn: str, tmp_path: Path) -> AsyncIterator[Store]:
    """An open ``Store`` on this test's database (trio tests only)."""
    async with open_store(StorageConfig(dsn=db_dsn), state_dir=tmp_path) as opened:
        yield opened


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reaches a PostgreSQL is marked ``postgres`` (``-m postgres`` runs
    them again against ``METAD_TEST_DSN`` in CI)."""
    for item in items:
        if "pg_admin_dsn" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
