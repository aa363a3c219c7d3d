"""The default storage path: a private PostgreSQL in ``<state_dir>/pg``.

Runs even when METAD_TEST_DSN is set: it is what ``metad`` does out of the box.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest
import trio

from config.model import StorageConfig
from daemon.store import StoreError, open_store
from daemon.store.embedded import postmaster_alive

pytestmark = [pytest.mark.postgres, pytest.mark.trio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


def _alive(pid: int) -> bool:
    try:
        return postmaster_alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


def _postmaster_pid(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    return int(pidfile.read_text().splitlines()[0])


async def test_rows_persist_across_restarts_and_server_stops(pg_state_dir: Path) -> None:
    state = pg_state_dir / "state"
    async with open_store(StorageConfig(), state_dir=state) as store:
        assert store.embedded is not None
        assert not store.embedded.reused
        assert store.embedded.pgdata == state.resolve() / "pg"
        cold = store.embedded.startup_s
        await store.execute("INSERT INTO events (kind) VALUES ('kept')")
        pid = _postmaster_pid(store.embedded.pgdata)
        assert pid is not None
        assert _alive(pid)
    assert not _alive(pid)  # stopped on exit: the daemon owns it

    async with open_store(StorageConfig(), state_dir=state) as store:
        assert store.embedded is not None
        warm = store.embedded.startup_s
        assert await store.fetchval("SELECT count(*) FROM events WHERE kind = 'kept'") == 1
    print(f"embedded PostgreSQL: cold start {cold:.2f} s, warm start {warm:.2f} s")


async def test_server_left_by_a_killed_daemon_is_adopted(pg_state_dir: Path) -> None:
    state = pg_state_dir / "state"
    script = textwrap.dedent(
        f"""
        import os, signal, trio
        from pathlib import Path
        from config.model import StorageConfig
        from daemon.store import open_store

        async def main():
            async with open_store(StorageConfig(), state_dir=Path({str(state)!r})) as store:
                await store.execute("INSERT INTO events (kind) VALUES ('before kill')")
                os.kill(os.getpid(), signal.SIGKILL)

        trio.run(main)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = await trio.run_process([sys.executable, "-c", script], env=env, check=False)
    assert result.returncode == -signal.SIGKILL
    orphan = _postmaster_pid(state / "pg")
    assert orphan is not None
    assert _alive(orphan)

    async with open_store(StorageConfig(), state_dir=state) as store:
        assert store.embedded is not None
        assert store.embedded.reused
        assert _postmaster_pid(store.embedded.pgdata) == orphan
        assert await store.fetchval("SELECT count(*) FROM events") == 1
    assert not _alive(orphan)


async def test_unusable_state_dir_is_a_store_error(pg_state_dir: Path) -> None:
    blocker = pg_state_dir / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(
        StoreError, match=r"^embedded PostgreSQL failed to start: .*; log: .*pg/log$"
    ):
        async with open_store(StorageConfig(), state_dir=blocker / "state"):
            pass


async def test_foreign_data_directory_is_a_store_error(pg_state_dir: Path) -> None:
    pgdata = pg_state_dir / "state" / "pg"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("9\n")
    with pytest.raises(StoreError, match=r"embedded PostgreSQL failed to start: .*version"):
        async with open_store(StorageConfig(), state_dir=pg_state_dir / "state"):
            pass
