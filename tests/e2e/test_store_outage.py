"""The control socket while the daemon's PostgreSQL stops answering (SIGSTOPped: a
server that accepts and never answers, like a blackholed network).

The operator's case: ``metad ctl status`` and ``metad campaign pause`` said only "no
answer from the daemon within 10 s", the words of a dead daemon, for as long as the
store hung; now they say in seconds that storage is not answering, and once the server
answers again the same calls work.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from tests.support import (
    REPO,
    Daemon,
    embedded_state_dir,
    metad_command,
    server_processes,
    signal_all,
    write_demo_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def root() -> Iterator[Path]:
    with embedded_state_dir() as path:
        yield path


def _ctl(config: Path, *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        metad_command("ctl", "-c", str(config), *args),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_ctl_says_storage_is_not_answering_within_seconds_and_works_once_it_answers(
    root: Path,
) -> None:
    config = write_demo_config(root)
    daemon = Daemon(config)
    try:
        daemon.wait_for("READY", timeout=60)
        code, out, _ = _ctl(config, "status")
        assert code == 0, out
        server = server_processes(root / "state" / "pg")
        signal_all(server, signal.SIGSTOP)
        try:
            code, out, took = _ctl(config, "status")
        finally:
            signal_all(server, signal.SIGCONT)
        assert code == 1
        assert "storage is not answering" in out, out
        assert "no answer from the daemon" not in out
        assert took < 9.0  # the client's own bound is 10 s
        deadline = time.monotonic() + 30
        while True:  # the daemon recovers: leases, pool and actors
            code, out, _ = _ctl(config, "status")
            if code == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert code == 0, out
        assert "200000000000001" in out
    finally:
        daemon.proc.send_signal(signal.SIGINT)
        daemon.rest(timeout=30)


def test_sigterm_with_the_server_frozen_exits_within_systemds_stop_timeout(root: Path) -> None:
    """``shutdown_timeout_s`` (8 s here) once the store's connections are closed, plus
    ``pg_ctl stop``'s own 5 s: within ``TimeoutStopSec=15s`` of deploy/metad.service.
    Before, the daemon waited for the server for as long as it was frozen."""
    config = write_demo_config(root)
    daemon = Daemon(config)
    server: list[psutil.Process] = []
    try:
        daemon.wait_for("READY", timeout=60)
        server = server_processes(root / "state" / "pg")
        signal_all(server, signal.SIGSTOP)
        time.sleep(1.0)  # the daemon's periodic work is now waiting on the server
        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        code, err = daemon.rest(timeout=30)
        took = time.monotonic() - started
    finally:
        signal_all(server, signal.SIGCONT)
        daemon.kill()
    log = "\n".join(daemon.lines) + err
    assert took < 14.0, log
    assert "closing its connections" in log
    assert "embedded PostgreSQL did not stop within 5 s: left running" in log
    assert code == 0, log
