"""``metad run`` as systemd runs it: a real process, real signals, the embedded server."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from config.model import StorageConfig
from daemon.store import open_store
from daemon.store.embedded import start_embedded_blocking
from tests.support import REPO, Daemon, embedded_state_dir, metad_command, write_demo_config

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def root() -> Iterator[Path]:
    """Config and state outside pytest's tmp tree (see ``embedded_state_dir``)."""
    with embedded_state_dir() as path:
        yield path


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        d.kill()


def _start(daemons: list[Daemon], config: Path, *args: str) -> Daemon:
    d = Daemon(config, *args)
    daemons.append(d)
    return d


def test_ready_then_sigterm_exits_zero_within_ten_seconds(
    root: Path, daemons: list[Daemon]
) -> None:
    config = write_demo_config(root)
    d = _start(daemons, config, "--log-format", "json")
    ready = json.loads(d.wait_for('"READY"', timeout=60))
    assert ready["chips"] == 2
    assert ready["wabas"] == 1
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    code, _ = d.rest(timeout=15)
    assert code == 0
    assert time.monotonic() - t0 < 10
    # The embedded server is stopped on a clean exit.
    assert not (root / "state" / "pg" / "postmaster.pid").exists()


def _sql(state: Path, sql: str) -> object:
    """Run one statement on the embedded server of ``state`` (adopting it if running)."""
    server = start_embedded_blocking(state)

    async def run() -> object:
        cfg = StorageConfig(dsn=server.dsn, pool_min_size=1, pool_max_size=1)
        async with open_store(cfg, state_dir=state, run_migrations=False) as store:
            return await store.fetchval(sql)

    return trio.run(run)


def test_survives_kill_9_and_reuses_server_and_data(root: Path, daemons: list[Daemon]) -> None:
    config = write_demo_config(root)
    state = root / "state"
    first = _start(daemons, config)
    first.wait_for("READY", timeout=60)
    pid_file = state / "pg" / "postmaster.pid"
    server_pid = pid_file.read_text().split()[0]
    first.kill()
    created = _sql(state, "SELECT min(updated_at) FROM chips")
    assert created is not None

    second = _start(daemons, config)
    assert "chips=2" in second.wait_for("READY", timeout=60)
    assert pid_file.read_text().split()[0] == server_pid  # the same server, adopted
    second.proc.send_signal(signal.SIGINT)
    code, _ = second.rest()
    assert code == 0
    assert not pid_file.exists()

    # The rows written before the kill are still there after a clean restart.
    server = start_embedded_blocking(state)
    try:
        assert _sql(state, "SELECT min(updated_at) FROM chips") == created
    finally:
        server.stop_blocking()


def test_check_accepts_the_default_config() -> None:
    out = subprocess.run(
        metad_command("check", "-c", str(REPO / "metad.toml")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout


def test_check_reports_file_line_field_and_exits_2(tmp_path: Path) -> None:
    config = write_demo_config(
        tmp_path, extra='\n[[chips]]\nphone_number_id = "3"\ndisplay_number = "x"\nwaba = "nope"\n'
    )
    out = subprocess.run(
        metad_command("check", "-c", str(config)), capture_output=True, text=True, check=False
    )
    assert out.returncode == 2
    line = next(
        n for n, text in enumerate(config.read_text().splitlines(), 1) if 'waba = "nope"' in text
    )
    assert f'{config}:{line}: chips[2].waba: unknown WABA "nope"' in out.stderr
    assert "Traceback" not in out.stderr


def test_check_reads_the_secrets_as_run_would(tmp_path: Path) -> None:
    """Outside sandbox mode a missing token is what ``metad run`` refuses at its start:
    ``check`` says so too (the unit runs it first), unless told to skip the secrets."""
    config = write_demo_config(tmp_path)
    config.write_text(config.read_text().replace("enabled = true", "enabled = false"))
    out = subprocess.run(
        metad_command("check", "-c", str(config)), capture_output=True, text=True, check=False
    )
    assert out.returncode == 2, out.stdout
    assert "graph.app_secret: required outside sandbox mode" in out.stderr
    skipped = subprocess.run(
        metad_command("check", "-c", str(config), "--no-secrets"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert skipped.returncode == 0, skipped.stderr
    assert "secrets not read" in skipped.stdout


def test_run_with_unreachable_database_fails_cleanly(tmp_path: Path) -> None:
    config = write_demo_config(tmp_path, dsn="postgresql://postgres@127.0.0.1:1/none")
    out = subprocess.run(
        metad_command("run", "-c", str(config)),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "127.0.0.1" in out.stderr


def test_run_with_missing_config_exits_2(tmp_path: Path) -> None:
    out = subprocess.run(
        metad_command("run", "-c", str(tmp_path / "absent.toml")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert "absent.toml" in out.stderr
    assert "Traceback" not in out.stderr


def test_sandbox_run_sends_through_the_simulator(root: Path, daemons: list[Daemon]) -> None:
    """`metad run` in sandbox mode serves the simulator and sends through it over HTTP."""
    config = write_demo_config(root)
    d = _start(daemons, config, "--log-format", "json")
    ready = json.loads(d.wait_for('"READY"', timeout=60))
    assert ready["sandbox"].startswith("http://127.0.0.1:")
    out = subprocess.run(
        metad_command(
            "ctl",
            "-c",
            str(config),
            "send-test",
            "--json",
            "--chip",
            "200000000000001",
            "--to",
            "5511987654321",
            "--template",
            "hello_world:en_US",
        ),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["result"] == "sent"
    assert result["wamid"].startswith("wamid.")
    status = subprocess.run(
        metad_command("ctl", "-c", str(config), "status", "--json"),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    chips = {c["phone_number_id"]: c for c in json.loads(status.stdout)["chips"]}
    assert chips["200000000000001"]["accepted"] == 1
    d.proc.send_signal(signal.SIGTERM)
    code, _ = d.rest()
    assert code == 0
