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

The moments are drawn over the campaign's progress, not the clock: kill *k* comes once
the messages sent pass the *k*-th of ``--kills`` random points between 3 % and 90 % of
what the cap allows, and at least a random 0.2-1 s after the daemon came back. So every
kill lands while the campaign runs, however fast the machine sends (with fixed pauses a
fast daemon reached its cap after 14 of 20 kills).

Goal: duplicates=0, lost=0, spent <= cap. The simulator runs as its own process (it is
Meta: it must survive the daemon's deaths and retry its webhooks like Meta does); the
daemon keeps its embedded PostgreSQL across kills (or uses ``--dsn``).

Usage: ``python bench/crash_campaign.py [--recipients N] [--kills K] [--rate R]
[--cap USD] [--dsn DSN] [--seed S] [--keep]``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
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
    control_call,
    sim_messages,
    start_sim,
    stop,
    write_audience,
    write_config,
)

MARKETING_USD = 0.0625
SIM_KNOBS = [
    *CALM_KNOBS,
    "webhook_max_attempts=40",
    "webhook_retry_base_s=0.5",
]


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
    config = write_config(tmp, wabas=2, chips_per_waba=2, contacts=args.recipients, dsn=args.dsn)
    from config import load_config

    cfg = load_config(config)
    sim_url = cfg.graph.base_url
    sim = None
    daemon = Daemon(config, tmp / "metad.log")
    started = time.monotonic()
    kills = 0
    try:
        sim = start_sim(config, tmp / "sim.log", SIM_KNOBS)
        audience = write_audience(sim_url, args.recipients, tmp / "campaigns" / "people.csv")
        campaign_file(
            tmp / "campaigns" / "crash.toml",
            "crash",
            rate=args.rate,
            cap=cap,
            extra="in_doubt_hold_s = 0",
        )
        daemon.start()
        campaign_cli(config, "start", str(tmp / "campaigns" / "crash.toml"))
        status: dict[str, Any] = {}
        expected = min(args.recipients, int(cap / MARKETING_USD))
        marks = sorted(rng.uniform(0.03, 0.9) * expected for _ in range(args.kills))
        socket_path = cfg.daemon.runtime_dir / "metad.sock"
        for mark in marks:
            time.sleep(rng.uniform(0.2, 1.0))
            status = _progress_past(socket_path, mark)
            if status["state"] != "running":
                break
            daemon.kill9()
            kills += 1
            daemon.start()
        # The end: the campaign finished or stopped at its cap, nothing in flight, and
        # the simulator's webhook retries have settled what the kills left in doubt.
        deadline = time.monotonic() + 600
        settle_by = None
        while time.monotonic() < deadline:
            status = campaign_cli(config, "status", "crash")
            stopped = status["state"] != "running" and status["in_flight"] == 0
            if stopped and settle_by is None:
                settle_by = time.monotonic() + 90  # the simulator's webhook retries
            if stopped and (status["in_doubt"] == 0 or time.monotonic() > (settle_by or 0)):
                break
            time.sleep(1.0)
        messages = sim_messages(sim_url)
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
        stop(sim)
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


def _progress_past(socket_path: Path, mark: float, timeout_s: float = 120.0) -> dict[str, Any]:
    """The campaign's status once it has sent ``mark`` messages or stopped running (or
    after ``timeout_s`` without getting there: a stuck campaign is reported, not waited
    for forever). Polled on the control socket: a CLI process per poll would compete
    with the daemon for the CPU."""
    deadline = time.monotonic() + timeout_s
    while True:
        status: dict[str, Any] = control_call(socket_path, "campaign.status", {"name": "crash"})
        if status["state"] != "running" or status["sent"] >= mark:
            return status
        if time.monotonic() > deadline:
            return status
        time.sleep(0.2)


if __name__ == "__main__":
    main()
