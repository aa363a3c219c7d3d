"""Unusable storage is one clear ``StoreError``, quickly."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.model import StorageConfig
from daemon.store import StoreError, open_store
from tests.integration.conftest import with_database

pytestmark = pytest.mark.trio


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that completes the TCP handshake and then never says anything."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


async def _open(dsn: str, tmp_path: Path, **kwargs: float) -> None:
    async with open_store(StorageConfig(dsn=dsn), state_dir=tmp_path, **kwargs):
        pytest.fail("storage should not have opened")


async def test_connection_refused(closed_port: int, tmp_path: Path) -> None:
    dsn = f"postgresql://metad:s3cret@127.0.0.1:{closed_port}/metad"
    with pytest.raises(StoreError) as info:
        await _open(dsn, tmp_path)
    message = str(info.value)
    assert message == (
        f"cannot connect to PostgreSQL at 127.0.0.1:{closed_port}/metad: connection refused"
    )
    assert "s3cret" not in message


async def test_silent_server_times_out(silent_port: int, tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:\d+/x: no answer within 0\.5 s"):
        await _open(f"postgresql://u@127.0.0.1:{silent_port}/x", tmp_path, connect_timeout=0.5)
    assert time.monotonic() - start < 3


@pytest.mark.postgres
async def test_missing_database(pg_admin_dsn: str, tmp_path: Path) -> None:
    dsn = with_database(pg_admin_dsn, "metad_no_such_database")
    with pytest.raises(StoreError, match='database "metad_no_such_database" does not exist'):
        await _open(dsn, tmp_path)


async def test_store_error_leaves_no_bridge_thread_behind(closed_port: int, tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        await _open(f"postgresql://u@127.0.0.1:{closed_port}/x", tmp_path)
    assert "metad-asyncpg" not in {t.name for t in threading.enumerate()}


@pytest.mark.postgres
async def test_errors_from_the_block_come_out_as_raised(db_dsn: str, tmp_path: Path) -> None:
    """Not wrapped in the ExceptionGroup of open_store's internal nursery."""

    async def fail_inside() -> None:
        async with open_store(StorageConfig(dsn=db_dsn), state_dir=tmp_path):
            raise LookupError("from the block")

    with pytest.raises(LookupError, match="from the block"):
        await fail_inside()
