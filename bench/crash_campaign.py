"""Exactly once through crashes: a campaign run while the daemon is ``kill -9``-ed.

Runs a campaign of ``--recipients`` (10,000) simulator contacts with a budget cap, kills
the daemon with SIGKILL at random moments ``--kills`` times (20), restarts it each time,
waits for the end, then prints, one per line:

  recipients=   audience size
  sent=         recipients the simulator received the campaign's message for
  duplicates=   messages beyond the first one per recipient, from the simulator's record
  lost=         recipients neither received by the simulator nor held by the daemon as
                not sent (pending, skipped, refused, in doubt, stopped by the cap)
  in_doubt=     messages a crash left unsettled at the end (no status webhook came)
  spent=        what Meta's status webhooks priced for the campaign (USD)
  cap=          the campaign's budget cap (USD)
  kills=        kills actually made while the campaign was running
  seconds=      wall time of the run

Goal: duplicates=0, lost=0, spent <= cap. The simulator runs as its own process (it is
Meta: it must survive the daemon's deaths and retry its webhooks like Meta does); the
daemon keeps its embedded PostgreSQL across kills (or uses ``--dsn``).

Usage: ``python bench/crash_campaign.py [--recipients N] [--kills K] [--rate R]
[--cap USD] [--dsn DSN] [--seed S] [--keep]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WABAS = ("100000000000001", "100000000000002")
CHIPS_PER_WABA = 2
MARKETING_USD = 0.0625


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp: Path, n: int, dsn: str) -> Path:
    chips = "".join(
        f"""
[[chips]]
phone_number_id = "2000000000000{w}{c}"
display_number = "+55 11 9400{w}-000{c}"
waba = "{waba}"
throughput_mps = 80
"""
        for w, waba in enumerate(WABAS, start=1)
        for c in range(1, CHIPS_PER_WABA + 1)
    )
    wabas = "".join(f'\n[[wabas]]\nid = "{w}"\nname = "bench {w[-1]}"\n' for w in WABAS)
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
base_url = "http://127.0.0.1:{(sim_port := _port())}"
[webhook]
listen = "127.0.0.1:{_port()}"
[sandbox]
enabled = true
serve = false
listen = "127.0.0.1:{sim_port}"
seed = 11
contacts = {n + 10}
reply_rate = 0.05
[limits]
pair_interval_s = 1
[campaigns]
dir = "campaigns"
[budget]
daily_usd = 100000
{wabas}{chips}""",
        encoding="utf-8",
    )
    return path


def _start_sim(config: Path, log: Path) -> subprocess.Popen[bytes]:
    knobs = [
        "initial_tier=TIER_UNLIMITED",
        "inbound_per_min=0",
        "quality_change_rate=0",
        "marketing_cap_rate=0",
        "webhook_max_attempts=40",
        "webhook_retry_base_s=0.5",
        "open_window_share=0",
    ]
    args = [sys.executable, "-m", "daemon", "sim", "-c", str(config)]
    for k in knobs:
        args += ["--knob", k]
    proc = subprocess.Popen(args, cwd=REPO, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    return proc


class Daemon:
    """``metad run`` with its log in a file (a pipe nobody reads would block it)."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "-c", str(self.config)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.log.open("rb") as f:
                f.seek(offset)
                if b"READY" in f.read():
                    return
            if self.proc.poll() is not None:
                raise SystemExit(f"metad exited {self.proc.returncode}; see {self.log}")
            time.sleep(0.05)
        raise SystemExit(f"metad not READY within {timeout}s; see {self.log}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _ctl(config: Path, *args: str) -> Any:
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


def _wait_sim(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_sim/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("simulator did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--rate", type=float, default=100.0, help="campaign messages/s")
    parser.add_argument(
        "--cap",
        type=float,
        default=None,
        help="campaign budget cap in USD (default: 90%% of the audience's marketing price,"
        " so the cap is reached)",
    )
    parser.add_argument("--dsn", default="", help="external PostgreSQL (default: embedded)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cap = args.cap if args.cap is not None else round(args.recipients * MARKETING_USD * 0.9, 2)
    tmp = Path(tempfile.mkdtemp(prefix="metad-crash-"))
    config = _config(tmp, args.recipients, args.dsn)
    from config import load_config

    cfg = load_config(config)
    sim_url = cfg.graph.base_url
    sim = _start_sim(config, tmp / "sim.log")
    daemon = Daemon(config, tmp / "metad.log")
    started = time.monotonic()
    kills = 0
    try:
        _wait_sim(sim_url)
        contacts = httpx.get(
            f"{sim_url}/_sim/contacts", params={"limit": args.recipients + 10}, timeout=30
        ).json()["data"]
        audience = [c["wa_id"] for c in contacts][: args.recipients]
        (tmp / "campaigns").mkdir()
        with (tmp / "campaigns" / "people.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["phone", "nome"])
            w.writerows([wa, f"Dr {i}"] for i, wa in enumerate(audience))
        (tmp / "campaigns" / "crash.toml").write_text(
            f"""name = "crash"
[audience]
file = "people.csv"
[[templates]]
name = "vaga_plantao"
language = "pt_BR"
[variables]
"1" = "nome"
"2" = {{ column = "especialidade", default = "clínica médica" }}
[limits]
rate_per_s = {args.rate}
budget_usd = {cap}
in_doubt_hold_s = 0
""",
            encoding="utf-8",
        )
        daemon.start()
        _ctl(config, "start", str(tmp / "campaigns" / "crash.toml"))
        status: dict[str, Any] = {}
        for _ in range(args.kills):
            time.sleep(rng.uniform(1.0, 6.0))
            status = _ctl(config, "status", "crash")
            if status["state"] != "running":
                break
            daemon.kill9()
            kills += 1
            daemon.start()
        # The end: the campaign finished or stopped at its cap, nothing in flight, and
        # the simulator's webhook retries have settled what the kills left in doubt.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status = _ctl(config, "status", "crash")
            settled = status["in_flight"] == 0 and status["in_doubt"] == 0
            if status["state"] in ("finished", "paused", "cancelled") and settled:
                break
            if status["state"] in ("finished", "paused") and time.monotonic() > deadline - 540:
                if status["in_flight"] == 0:
                    break
            time.sleep(1.0)
        messages = httpx.get(
            f"{sim_url}/_sim/messages", params={"limit": 10_000_000}, timeout=60
        ).json()["data"]
        ours = [
            m
            for m in messages
            if (m.get("biz_opaque_callback_data") or "").startswith("metad:o:")
            and m["type"] == "template"
        ]
        per = Counter(m["wa_id"] or m["to"] for m in ours)
        received = set(per)
        held = _held(config, cfg, audience)
        lost = sum(1 for wa in audience if wa not in received and wa not in held)
        print(f"recipients={len(audience)}")
        print(f"sent={len(received & set(audience))}")
        print(f"duplicates={sum(n - 1 for n in per.values())}")
        print(f"lost={lost}")
        print(f"in_doubt={status['in_doubt']}")
        print(f"spent={status['cost_usd']:.4f}")
        print(f"cap={cap:.4f}")
        print(f"kills={kills}")
        print(f"state={status['state']}")
        print(f"seconds={time.monotonic() - started:.1f}")
    finally:
        daemon.stop()
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"workdir={tmp}", file=sys.stderr)


def _held(config: Path, cfg: Any, audience: list[str]) -> set[str]:
    """Recipients the daemon knowingly did not send: pending (e.g. stopped by the cap),
    skipped, refused, dropped, or in doubt."""
    import trio

    from daemon.store import open_store

    async def read() -> set[str]:
        async with open_store(
            cfg.storage, state_dir=cfg.daemon.state_dir, keep_adopted_server=True
        ) as store:
            rows = await store.fetch(
                "SELECT r.wa_id FROM campaign_recipients r WHERE r.campaign_id = 'crash'"
                " AND (r.state <> 'handed' OR EXISTS (SELECT 1 FROM outbox o"
                "   WHERE o.campaign_id = r.campaign_id AND o.recipient_id = r.recipient_key"
                "     AND o.state IN ('in_doubt', 'cancelled')))"
            )
            return {r["wa_id"] for r in rows}

    return trio.run(read)


if __name__ == "__main__":
    main()
