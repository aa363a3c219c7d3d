"""The webhook load of ``bench/webhook_ingest.py``: signed bodies, and the generators that
fire them at a target.

Why a module of its own: the load is the same whichever server it is aimed at (metad or
the FastAPI peer), and it is the part a reader checks to trust a comparison: how bodies
are built and signed, how requests are sent, what counts as answered and how long the
run took. webhook_ingest.py keeps what is particular to metad: its config, the processes
it starts, the durability check and the report. The bodies are written to a file (one per
line, signatures in ``<file>.sig``) because the generators run in other processes (wrk, or
httpx workers spawned by multiprocessing, which import this module by name).
"""

from __future__ import annotations

import json
import multiprocessing
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from daemon.webhook.signature import sign

__all__ = ["Load", "httpx_load", "write_bodies", "wrk_load"]


# --- bodies -----------------------------------------------------------------------------------


def _status(wamid: str, state: str, ts: int, recipient: str) -> dict[str, object]:
    item: dict[str, object] = {
        "id": wamid,
        "status": state,
        "timestamp": str(ts),
        "recipient_id": recipient,
    }
    if state != "read":
        item["pricing"] = {
            "billable": True,
            "pricing_model": "PMP",
            "category": "marketing",
            "type": "regular",
        }
    return item


def write_bodies(
    path: Path,
    count: int,
    per_body: int,
    tag: str,
    *,
    waba: str,
    chips: Sequence[str],
    secret: str,
) -> int:
    """``count`` distinct signed bodies, one per line, signatures in ``<path>.sig``: the
    file pair :func:`wrk_load` and :func:`httpx_load` fire. ``waba`` and ``chips`` are the
    target's numbers, so its processor does real work; ``secret`` its app secret.

    Returns the mean body size in bytes.
    """
    states = ("sent", "delivered", "read")
    ts = int(time.time())
    total = 0
    with path.open("wb") as bodies, Path(f"{path}.sig").open("w") as sigs:
        for i in range(count):
            chip = chips[i % len(chips)]
            statuses = [
                _status(
                    f"wamid.HBgN{tag}{i:08d}{j:03d}",
                    states[j % 3],
                    ts,
                    f"55119{(i * per_body + j) % 100_000_000:08d}",
                )
                for j in range(per_body)
            ]
            doc = {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": waba,
                        "changes": [
                            {
                                "field": "messages",
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {
                                        "display_phone_number": "5511940000001",
                                        "phone_number_id": chip,
                                    },
                                    "statuses": statuses,
                                },
                            }
                        ],
                    }
                ],
            }
            raw = json.dumps(doc, separators=(",", ":")).encode()
            bodies.write(raw + b"\n")
            sigs.write(sign(secret.encode(), raw) + "\n")
            total += len(raw)
    return total // max(1, count)


# --- load generators --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    ok: int
    """Answers 200."""
    other: int
    """Any other answer (a 503 when storage could not keep up, a 401 would be a bug)."""
    seconds: float
    p99_ms: float | None
    p50_ms: float | None


_LUA = r"""
local bodies, sigs = {}, {}
local threads = {}
local offset = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  offset = tonumber(args[2]) or 0
  for line in io.lines(path) do bodies[#bodies + 1] = line end
  for line in io.lines(path .. ".sig") do sigs[#sigs + 1] = line end
  n = 0
  ok = 0
  other = 0
end

function request()
  local i = (offset + n) % #bodies + 1
  n = n + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Hub-Signature-256"] = sigs[i],
  }, bodies[i])
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local o, x = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    x = x + t:get("other")
  end
  io.write(string.format("LUA_OK=%d\nLUA_OTHER=%d\n", o, x))
  io.write(string.format("LUA_P50_US=%d\nLUA_P99_US=%d\n",
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_load(
    url: str, bodies: Path, offset: int, seconds: float, connections: int, workdir: Path
) -> Load:
    script = workdir / "post.lua"
    if not script.exists():
        script.write_text(_LUA, encoding="utf-8")
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
            "--",
            str(bodies),
            str(offset),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def grab(pattern: str) -> str:
        m = re.search(pattern, out)
        if m is None:
            raise SystemExit(f"unexpected wrk output (no {pattern!r}):\n{out}")
        return m.group(1)

    elapsed = _wrk_seconds(grab(r"requests in ([\d.]+\w+),"))
    return Load(
        ok=int(grab(r"LUA_OK=(\d+)")),
        other=int(grab(r"LUA_OTHER=(\d+)")),
        seconds=elapsed,
        p99_ms=int(grab(r"LUA_P99_US=(\d+)")) / 1000.0,
        p50_ms=int(grab(r"LUA_P50_US=(\d+)")) / 1000.0,
    )


def _wrk_seconds(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise SystemExit(f"cannot read wrk duration {text!r}")
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(2)]


def _httpx_worker(job: tuple[str, str, int, int, float, int]) -> tuple[int, int, list[float]]:
    import httpx
    import trio

    url, bodies_path, offset, stride, seconds, clients = job
    bodies = Path(bodies_path).read_bytes().splitlines()
    sigs = Path(f"{bodies_path}.sig").read_text().splitlines()
    ok = other = 0
    latencies: list[float] = []

    async def client(c: int, deadline: float, http: httpx.AsyncClient) -> None:
        nonlocal ok, other
        k = offset + c
        while trio.current_time() < deadline:
            i = k % len(bodies)
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sigs[i]}
            start = time.perf_counter()
            response = await http.post(url, content=bodies[i], headers=headers)
            latencies.append(time.perf_counter() - start)
            if response.status_code == 200:
                ok += 1
            else:
                other += 1
            k += stride

    async def main() -> None:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(limits=limits, timeout=10) as http:
            deadline = trio.current_time() + seconds
            async with trio.open_nursery() as nursery:
                for c in range(clients):
                    nursery.start_soon(client, c, deadline, http)

    trio.run(main)
    return ok, other, latencies


def httpx_load(url: str, bodies: Path, offset: int, seconds: float, connections: int) -> Load:
    """Two worker processes; every request in flight at the deadline is still answered."""
    procs = 2
    per = max(1, connections // procs)
    stride = per * procs
    jobs = [(url, str(bodies), offset + p * per, stride, seconds, per) for p in range(procs)]
    start = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        results = pool.map(_httpx_worker, jobs)
    elapsed = time.monotonic() - start  # includes the workers' start-up: a floor
    latencies = sorted(lat for _, _, lats in results for lat in lats)

    def pct(p: float) -> float | None:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
            if latencies
            else None
        )

    return Load(
        ok=sum(r[0] for r in results),
        other=sum(r[1] for r in results),
        seconds=elapsed,
        p99_ms=pct(0.99),
        p50_ms=pct(0.50),
    )
