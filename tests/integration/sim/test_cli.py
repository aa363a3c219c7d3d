"""``metad sim`` as a process: the READY line, --print-env, exit codes, signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
CONFIG = """
[sandbox]
enabled = true
listen = "127.0.0.1:0"

[[wabas]]
id = "100000000000001"

[[chips]]
phone_number_id = "200000000000001"
display_number = "+55 11 94000-0001"
waba = "100000000000001"
"""


def _sim(*args: str, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "sim", *args],
        cwd=REPO,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,  # type: ignore[call-overload]
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "metad.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_print_env_of_the_default_config() -> None:
    proc = _sim("-c", str(REPO / "metad.toml"), "--print-env")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["METAD_SIM_TOKEN"] == "metad-sandbox-token-100000000000001"
    assert env["METAD_SIM_PHONE_NUMBER_ID"] == "200000000000001"
    assert env["METAD_SIM_WABA_ID"] == "100000000000001"
    assert env["METAD_SIM_APP_SECRET"] == "metad-sandbox-app-secret"
    assert env["METAD_SIM_CONTACT"] == "5511987654321"
    assert env["METAD_SIM_TEMPLATE"] == "hello_world:en_US"


def test_serves_prints_ready_and_stops_on_sigterm(config: Path) -> None:
    proc = _sim("-c", str(config), "--webhook-url", "none", "--seed", "3")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("SIM READY url=http://127.0.0.1:"), (line, proc.stderr)
        url = line.removeprefix("SIM READY url=")
        assert httpx.get(f"{url}/_sim/health", timeout=5).json() == {"ok": True}
        assert httpx.get(f"{url}/_sim/state", timeout=5).json()["seed"] == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


def test_port_in_use_is_one_line_and_exit_1(config: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _sim("-c", str(config), "--listen", f"127.0.0.1:{port}")
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err.strip().splitlines() == [
        f"metad sim: cannot listen on 127.0.0.1:{port} for the sandbox simulator: "
        "address already in use"
    ]


def test_bad_config_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sandbox]\nseed = 'x'\n", encoding="utf-8")
    proc = _sim("-c", str(bad), "--print-env")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "seed" in err
    assert "Traceback" not in err
    proc = _sim("-c", str(tmp_path / "missing.toml"))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in err
