"""The daemon in a trio nursery on a real PostgreSQL: actors persist and survive crashes."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import trio

from actors.chip import GetSnapshot, Pause
from config import MetadConfig, parse_config
from daemon.main import Daemon, run_daemon
from daemon.statelock import StateDirBusy
from daemon.supervisor import TooManyRestarts
from tests.support import free_port

pytestmark = pytest.mark.postgres

CHIP = "200000000000001"


async def _start(nursery: trio.Nursery, cfg: MetadConfig) -> Daemon:
    daemon: Daemon = await nursery.start(partial(run_daemon, cfg, handle_signals=False))
    return daemon


def _config(dsn: str, state: Path, *, max_restarts: int = 5) -> MetadConfig:
    """Ports of its own: the tests may run beside a ``metad run`` on the defaults."""
    return parse_config(
        f"""
[daemon]
state_dir = "{state}"
runtime_dir = "{state}/run"
shutdown_timeout_s = 3
[supervisor]
max_restarts = {max_restarts}
backoff_min_s = 0.01
[storage]
dsn = "{dsn}"
[webhook]
listen = "127.0.0.1:{free_port()}"
[sandbox]
enabled = true
listen = "127.0.0.1:{free_port()}"
[[wabas]]
id = "100000000000001"
[[chips]]
phone_number_id = "{CHIP}"
display_number = "+55 11 94000-0001"
waba = "100000000000001"
[[chips]]
phone_number_id = "200000000000002"
display_number = "+55 11 94000-0002"
waba = "100000000000001"
""",
        file="test.toml",
    )


async def test_killed_chip_restarts_with_its_persisted_state(db_dsn: str, tmp_path: Path) -> None:
    cfg = _config(db_dsn, tmp_path)
    async with trio.open_nursery() as n:
        daemon = await _start(n, cfg)
        chip = daemon.fleet.chip(CHIP)
        await chip.call(lambda r: Pause(reason="operator", reply=r))

        daemon.supervisor.kill(f"chip:{CHIP}", "test")
        with trio.fail_after(5):
            while daemon.supervisor.restarts(f"chip:{CHIP}") < 1:
                await trio.sleep(0.01)
        snap = await chip.call(lambda r: GetSnapshot(reply=r))
        assert snap.restarts == 1
        assert snap.record.paused
        assert snap.record.pause_reason == "operator"
        assert [e.kind for e in daemon.events] == ["crashed", "restarted"]
        # The other chip was not touched.
        assert daemon.supervisor.restarts("chip:200000000000002") == 0
        daemon.stop.set()


async def test_crash_loop_stops_the_daemon(db_dsn: str, tmp_path: Path) -> None:
    cfg = _config(db_dsn, tmp_path, max_restarts=2)
    with pytest.RaisesGroup(TooManyRestarts, flatten_subgroups=True):
        async with trio.open_nursery() as n:
            daemon = await _start(n, cfg)
            for _ in range(10):
                daemon.supervisor.kill(f"chip:{CHIP}", "test")
                await trio.sleep(0.05)


async def test_second_daemon_on_the_same_state_dir_is_refused(db_dsn: str, tmp_path: Path) -> None:
    cfg = _config(db_dsn, tmp_path)
    async with trio.open_nursery() as n:
        daemon = await _start(n, cfg)
        with pytest.raises(StateDirBusy, match="another metad is running"):
            await run_daemon(cfg, handle_signals=False)
        daemon.stop.set()


async def test_clean_stop_persists_and_next_start_reloads(db_dsn: str, tmp_path: Path) -> None:
    cfg = _config(db_dsn, tmp_path)
    async with trio.open_nursery() as n:
        daemon = await _start(n, cfg)
        await daemon.fleet.chip(CHIP).call(lambda r: Pause(reason="quality", reply=r))
        daemon.stop.set()
    async with trio.open_nursery() as n:
        daemon = await _start(n, cfg)
        snap = await daemon.fleet.chip(CHIP).call(lambda r: GetSnapshot(reply=r))
        assert snap.record.paused
        assert snap.restarts == 0
        daemon.stop.set()
