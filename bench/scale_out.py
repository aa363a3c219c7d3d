"""Several daemons on one PostgreSQL: aggregate campaign throughput and takeover time.

Runs one campaign of ``--recipients`` simulator contacts over 12 chips (2 WABAs × 6)
with 1, 2 and then 3 daemons (``[cluster] chips = "auto"``, separate processes, one
external PostgreSQL, a fresh database per run), then a 3-daemon run in which one daemon
is SIGKILLed mid-campaign. Prints, one per line:

  msgs_per_s_1= msgs_per_s_2= msgs_per_s_3=
                recipients / seconds from ``campaign start`` until every recipient is
                journalled, for 1, 2 and 3 daemons
  takeover_s=   from the SIGKILL until the survivors run all 12 chips (their status)
  duplicates=   messages beyond the first one per recipient (the simulator's record)
  lost=         recipients neither received by the simulator nor held by the daemons
                as not sent (pending, refused, in doubt)

On one machine the daemons, PostgreSQL and the simulator share the same cores, so the
throughput figures say how the work spreads, not what several machines would reach.

Usage: ``python bench/scale_out.py [--recipients N] [--dsn postgresql://…/postgres]``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from campaign_harness import (
    CALM_KNOBS,
    Daemon,
    campaign_cli,
    campaign_file,
    sim_messages,
    start_sim,
    stop,
    write_audience,
    write_config,
)

from tests.support import free_port

LEASE_S = 6.0


def _create_db(admin_dsn: str) -> str:
    import asyncio

    import asyncpg

    name = f"scale_{uuid.uuid4().hex[:8]}"

    async def make() -> None:
        con = await asyncpg.connect(admin_dsn)
        try:
            await con.execute(f"CREATE DATABASE {name}")
        finally:
            await con.close()

    asyncio.run(make())
    return f"{admin_dsn.rsplit('/', 1)[0]}/{name}"


def _nodes(tmp: Path, base: Path, n: int) -> list[Path]:
    """``n`` copies of the config, each with its own webhook port, state and node id."""
    text = base.read_text(encoding="utf-8")
    out = []
    for i in range(1, n + 1):
        d = tmp / f"node{i}"
        d.mkdir()
        own = re.sub(
            r'\[webhook\]\nlisten = "[^"]+"',
            f'[webhook]\nlisten = "127.0.0.1:{free_port()}"',
            text,
        )
        own += f'\n[cluster]\nnode_id = "node{i}"\nchips = "auto"\nlease_s = {LEASE_S}\n'
        (d / "metad.toml").write_text(own, encoding="utf-8")
        out.append(d / "metad.toml")
    return out


def _fleet(config: Path) -> dict[str, str | None]:
    snap: Any = _ctl(config, "status")
    return {c["phone_number_id"]: c.get("owner") for c in snap["chips"]}


def _ctl(config: Path, *args: str) -> Any:
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "daemon", "ctl", "-c", str(config), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def run(
    tmp: Path, admin_dsn: str, recipients: int, nodes: int, *, kill: bool = False
) -> dict[str, Any]:
    work = tmp / f"run{nodes}{'k' if kill else ''}"
    work.mkdir()
    dsn = _create_db(admin_dsn)
    base = write_config(work, wabas=2, chips_per_waba=6, contacts=recipients, dsn=dsn)
    from config import load_config

    cfg = load_config(base)
    configs = _nodes(work, base, nodes)
    daemons = [Daemon(c, c.parent / "metad.log") for c in configs]
    sim = start_sim(base, work / "sim.log", [*CALM_KNOBS, "sent_delay_s=0"])
    try:
        audience = write_audience(cfg.graph.base_url, recipients, work / "people.csv")
        path = campaign_file(
            work / "scale.toml",
            "scale",
            rate=3000,
            cap=None,
            extra="max_in_flight = 2000\nin_doubt_hold_s = 0",
        )
        for d in daemons:
            d.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every chip leased, a fair share each
            shares = Counter(_fleet(configs[0]).values())
            if None not in shares and len(shares) == nodes and max(shares.values()) <= 12 // nodes:
                break
            time.sleep(0.5)
        time.sleep(2.0)  # template sync
        t0 = time.monotonic()
        campaign_cli(configs[0], "start", str(path))
        takeover = None
        killed = False
        while True:
            status = campaign_cli(configs[0], "status", "scale")
            if kill and not killed and status["sent"] >= recipients // 3:
                daemons[-1].kill9()
                killed, k0 = True, time.monotonic()
            if killed and takeover is None:
                owners = _fleet(configs[0])
                if all(o in {f"node{i}" for i in range(1, nodes)} for o in owners.values()):
                    takeover = time.monotonic() - k0
            if status["state"] == "finished" and (takeover is not None or not kill):
                break
            if time.monotonic() - t0 > 900:
                raise SystemExit(f"not finished after 15 min: {status}")
            time.sleep(0.25)
        seconds = time.monotonic() - t0
        ours = [
            m
            for m in sim_messages(cfg.graph.base_url)
            if (m.get("biz_opaque_callback_data") or "").startswith("metad:o:")
            and m["type"] == "template"
        ]
        per = Counter(m["wa_id"] or m["to"] for m in ours)
        held = _held(configs[0])
        lost = sum(1 for wa in audience if wa not in per and wa not in held)
        return {
            "msgs_per_s": status["sent"] / seconds,
            "takeover_s": takeover,
            "duplicates": sum(n - 1 for n in per.values()),
            "lost": lost,
        }
    finally:
        for d in daemons:
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
        stop(sim)


def _held(config: Path) -> set[str]:
    import trio

    from config import load_config
    from daemon.store import open_store

    cfg = load_config(config)

    async def read() -> set[str]:
        async with open_store(cfg.storage, state_dir=cfg.daemon.state_dir) as store:
            rows = await store.fetch(
                "SELECT r.wa_id FROM campaign_recipients r WHERE r.campaign_id = 'scale'"
                " AND (r.state <> 'handed' OR EXISTS (SELECT 1 FROM outbox o"
                "   WHERE o.campaign_id = r.campaign_id AND o.recipient_id = r.recipient_key"
                "     AND o.state IN ('in_doubt', 'cancelled')))"
            )
            return {r["wa_id"] for r in rows}

    return trio.run(read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="metad-scale-"))
    try:
        for n in (1, 2, 3):
            r = run(tmp, args.dsn, args.recipients, n)
            print(f"msgs_per_s_{n}={r['msgs_per_s']:.0f}", flush=True)
        r = run(tmp, args.dsn, args.recipients, 3, kill=True)
        print(f"takeover_s={r['takeover_s']:.1f}")
        print(f"duplicates={r['duplicates']}")
        print(f"lost={r['lost']}")
    finally:
        if args.keep:
            print(f"workdir={tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
