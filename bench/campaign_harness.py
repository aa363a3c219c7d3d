"""What the campaign benchmarks share: a fleet config, the simulator and the daemon as
separate processes, and the ``metad campaign`` CLI.

Why separate processes: the simulator is Meta — it must outlive the daemon's deaths
(``crash_campaign.py``) and must not share the daemon's CPU accounting
(``campaign_throughput.py``). Logs go to files: a pipe nobody reads would block a
process once its buffer is full.
"""

from __future__ import annotations

import csv
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import REPO, free_port, start_until_ready, stop_process

CALM_KNOBS = [
    "initial_tier=TIER_UNLIMITED",
    "inbound_per_min=0",
    "quality_change_rate=0",
    "marketing_cap_rate=0",
    "open_window_share=0",
]
"""Simulator knobs for campaign benchmarks: no tier cap, no spontaneous events, no
frequency-capped marketing, every contact outside its window (every message paid)."""


def write_config(
    tmp: Path,
    *,
    wabas: int,
    chips_per_waba: int,
    contacts: int,
    dsn: str = "",
    mps: int = 80,
    ingest_workers: int = 0,
) -> Path:
    """A sandbox fleet with an external simulator; returns the config's path."""
    ids = [f"10000000000000{w}" for w in range(1, wabas + 1)]
    chips = "".join(
        f"""
[[chips]]
phone_number_id = "20000000000{w:02d}{c:02d}"
display_number = "+55 11 9{w:02d}{c:02d}-0000"
waba = "{waba}"
throughput_mps = {mps}
"""
        for w, waba in enumerate(ids, start=1)
        for c in range(1, chips_per_waba + 1)
    )
    waba_tables = "".join(f'\n[[wabas]]\nid = "{w}"\nname = "bench {w[-1]}"\n' for w in ids)
    sim_port = free_port()
    path = tmp / "metad.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "state"
runtime_dir = "run"
shutdown_timeout_s = 8.0
[storage]
dsn = "{dsn}"
[graph]
base_url = "http://127.0.0.1:{sim_port}"
[webhook]
listen = "127.0.0.1:{free_port()}"
ingest_workers = {ingest_workers}
[sandbox]
enabled = true
serve = false
listen = "127.0.0.1:{sim_port}"
seed = 11
contacts = {contacts + 10}
reply_rate = 0.05
[limits]
pair_interval_s = 1
[campaigns]
dir = "campaigns"
[budget]
daily_usd = 1000000
weekly_usd = 1000000
monthly_usd = 1000000
{waba_tables}{chips}""",
        encoding="utf-8",
    )
    return path


def start_sim(config: Path, log: Path, knobs: list[str]) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "daemon", "sim", "-c", str(config)]
    for k in knobs:
        args += ["--knob", k]
    proc = subprocess.Popen(args, cwd=REPO, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    url = "http://" + _sim_listen(config)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_sim/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"simulator did not start; see {log}")


def _sim_listen(config: Path) -> str:
    from config import load_config

    return load_config(config).sandbox.listen


stop = stop_process


class Daemon:
    """``metad run`` with its log in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        self.proc = start_until_ready(self.config, self.log, timeout=timeout)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        stop(self.proc)


def campaign_cli(config: Path, *args: str) -> Any:
    """``metad campaign … --json``; raises with its stderr on failure."""
    out = subprocess.run(
        [sys.executable, "-m", "daemon", "campaign", "-c", str(config), "--json", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip() or out.stdout.strip())
    return json.loads(out.stdout)


def control_call(socket_path: Path, method: str, params: dict[str, Any] | None = None) -> Any:
    """One JSON-RPC call on the daemon's control socket (what ``metad ctl`` does).

    For polling loops: a ``metad campaign status`` process per poll costs a Python start
    (~0.3 s of CPU) on the cores the daemon is being measured on.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(60)
        sock.connect(str(socket_path))
        sock.sendall(
            json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
            ).encode()
            + b"\n"
        )
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError(f"the daemon closed the control connection ({method})")
            data += chunk
    answer = json.loads(data)
    if answer.get("error"):
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def write_audience(sim_url: str, n: int, path: Path) -> list[str]:
    """The first ``n`` simulator contacts as a campaign audience CSV; their wa_ids."""
    contacts = httpx.get(f"{sim_url}/_sim/contacts", params={"limit": n + 10}, timeout=30).json()
    audience = [c["wa_id"] for c in contacts["data"]][:n]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["phone", "nome"])
        w.writerows([wa, f"Dr {i}"] for i, wa in enumerate(audience))
    return audience


def campaign_file(
    path: Path, name: str, *, rate: float, cap: float | None, extra: str = ""
) -> Path:
    cap_line = f"budget_usd = {cap}" if cap is not None else ""
    path.write_text(
        f"""name = "{name}"
[audience]
file = "people.csv"
[[templates]]
name = "vaga_plantao"
language = "pt_BR"
[variables]
"1" = "nome"
"2" = {{ column = "especialidade", default = "clínica médica" }}
[limits]
rate_per_s = {rate}
{cap_line}
{extra}
""",
        encoding="utf-8",
    )
    return path


def sim_messages(sim_url: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{sim_url}/_sim/messages", params={"limit": 10_000_000}, timeout=120)
    return list(body.json()["data"])
