"""How many sends per second the simulator sustains: prints ``sim_sends_per_s=<n>``.

Why: the simulator stands in for Meta in the daemon's load tests, so it must not be the
bottleneck; the goal is >= 3,000 sends/s on a 2-core machine (issue M2).

What it does: starts ``python -m sim`` as its own process on a free port, with 8 numbers
at 1,000 messages/s each (throughput limits stay on), 20,000 contacts all inside their
customer-service window, and webhooks off (their delivery is the receiver's cost, not the
simulator's). It then drives ``POST /v21.0/{phone_number_id}/messages`` text sends
round-robin over numbers and contacts, over keep-alive connections, from ``wrk`` when
installed (``apt-get install wrk``; it costs the least CPU) or else from worker processes
running httpx (which compete with the simulator for the same cores and include their
start-up in the timed run: that figure is a floor, not the simulator's ceiling). The
figure is the simulator's own count of accepted sends during the timed run divided by
its length, so errors (which should be zero) do not count.

Usage: ``python bench/sim_throughput.py [--seconds 10] [--connections 32]
[--load wrk|httpx]``. Output lines are ``name=value``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
CHIPS = 8
CONTACTS = 20_000
WABA = "100000000000001"
TOKEN = f"metad-sandbox-token-{WABA}"


def _config(directory: Path) -> Path:
    chips = "\n".join(
        f"""
[[chips]]
phone_number_id = "2000000000000{i:02d}"
display_number = "+55 11 94000-00{i:02d}"
waba = "{WABA}"
throughput_mps = 1000
"""
        for i in range(1, CHIPS + 1)
    )
    path = directory / "metad.toml"
    path.write_text(
        f"""
[sandbox]
enabled = true
listen = "127.0.0.1:0"
seed = 1
contacts = {CONTACTS}
reply_rate = 0.0

[[wabas]]
id = "{WABA}"
name = "bench"
{chips}
""",
        encoding="utf-8",
    )
    return path


def _start_sim(config: Path) -> tuple[subprocess.Popen[str], str]:
    knobs = ["open_window_share=1", "initial_tier=TIER_UNLIMITED", "inbound_per_min=0"]
    args = [sys.executable, "-m", "sim", "-c", str(config), "--webhook-url", "none"]
    for k in knobs:
        args += ["--knob", k]
    proc = subprocess.Popen(
        args,
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("SIM READY url="):
        proc.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    return proc, line.removeprefix("SIM READY url=")


def _accepted(url: str) -> int:
    return int(httpx.get(f"{url}/_sim/counters", timeout=10).json().get("sends_accepted", 0))


def _wrk(
    url: str, contacts: list[str], seconds: float, connections: int, workdir: Path
) -> dict[str, str]:
    numbers = [f'"2000000000000{i:02d}"' for i in range(1, CHIPS + 1)]
    script = workdir / "send.lua"
    script.write_text(
        "local contacts = {" + ",".join(f'"{c}"' for c in contacts) + "}\n"
        "local numbers = {" + ",".join(numbers) + "}\n"
        "local headers = {"
        f'["Content-Type"]="application/json", ["Authorization"]="Bearer {TOKEN}"'
        "}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        "  local to = contacts[(n % #contacts) + 1]\n"
        "  local pid = numbers[(n % #numbers) + 1]\n"
        '  local body = \'{"messaging_product":"whatsapp","to":"\' .. to .. '
        '\'","type":"text","text":{"body":"bench"}}\'\n'
        '  return wrk.format("POST", "/v21.0/" .. pid .. "/messages", headers, body)\n'
        "end\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stats: dict[str, str] = {}
    if m := re.search(r"99%\s+([\d.]+)(us|ms|s)", out):
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        stats["sim_send_p99_ms"] = f"{float(m.group(1)) * scale:.1f}"
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        stats["sim_send_non_2xx"] = m.group(1)
    return stats


def _httpx_worker(args: tuple[str, list[str], float, int, int]) -> int:
    import trio

    url, contacts, seconds, clients, offset = args

    async def one(i: int, deadline: float) -> int:
        n = 0
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as c:
            while trio.current_time() < deadline:
                k = offset + i + n * clients
                pid = f"2000000000000{(k % CHIPS) + 1:02d}"
                body = {
                    "messaging_product": "whatsapp",
                    "to": contacts[k % len(contacts)],
                    "type": "text",
                    "text": {"body": "bench"},
                }
                await c.post(f"/v21.0/{pid}/messages", json=body)
                n += 1
        return n

    async def main() -> int:
        deadline = trio.current_time() + seconds
        counts: list[int] = []

        async def run(i: int) -> None:
            counts.append(await one(i, deadline))

        async with trio.open_nursery() as nursery:
            for i in range(clients):
                nursery.start_soon(run, i)
        return sum(counts)

    return trio.run(main)


def _httpx_load(url: str, contacts: list[str], seconds: float, connections: int) -> dict[str, str]:
    procs = 2
    per = max(1, connections // procs)
    jobs = [(url, contacts, seconds, per, p * (len(contacts) // procs)) for p in range(procs)]
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        pool.map(_httpx_worker, jobs)
    return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--load", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        proc, url = _start_sim(_config(workdir))
        try:
            doc: Any = httpx.get(
                f"{url}/_sim/contacts", params={"limit": CONTACTS}, timeout=30
            ).json()
            contacts = [c["wa_id"] for c in doc["data"]]
            load = (
                (lambda s: _wrk(url, contacts, s, args.connections, workdir))
                if args.load == "wrk"
                else (lambda s: _httpx_load(url, contacts, s, args.connections))
            )
            if args.warmup > 0:
                load(max(1.0, args.warmup))
            before, start = _accepted(url), time.monotonic()
            stats = load(args.seconds)
            elapsed = time.monotonic() - start
            accepted = _accepted(url) - before
            errors = {
                k: v
                for k, v in httpx.get(f"{url}/_sim/counters").json().items()
                if k.startswith("errors:")
            }
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    print(f"sim_sends_per_s={accepted / elapsed:.0f}")
    print(f"sim_sends_total={accepted}")
    print(f"load_generator={args.load}")
    print(f"connections={args.connections}")
    for name, value in stats.items():
        print(f"{name}={value}")
    print(f"sim_error_codes={json.dumps(errors, separators=(',', ':'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
