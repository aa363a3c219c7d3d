"""End-to-end campaign throughput with 20 chips, and the daemon's CPU per message.

Runs a campaign of ``--recipients`` (20,000) simulator contacts over 20 chips (4 WABAs
× 5 numbers, 80 msg/s each) against the simulator in its own process, with every
message sent, delivered and read (three status webhooks each), and prints, one per line:

  msgs_per_s          the sustained rate: messages handed over per second between 10 % and
                      90 % of the campaign (from the status polled every 0.25 s)
  msgs_per_s_overall  recipients / seconds from ``campaign start`` (the CLI's own start
                      and the campaign's ramp-up included) to the last accepted send
  first_send_s        seconds from ``campaign start`` to the first message handed over
  cpu_us_per_msg      the daemon's user+system CPU (its ingest worker processes
                      included, with ``--ingest-workers``) from start to the last
                      ``read`` status stored, per message (its three webhooks included)
  ingest_cpu_us_per_msg  the ingest workers' part of it
  pg_cpu_us_per_msg   the same for the PostgreSQL server processes (embedded only), for
                      the whole picture: the daemon's SQL runs there
  statuses_per_s      status webhooks the daemon took per second over the same span
  recipients=, seconds=

Goals (issue M6): msgs_per_s >= 1000, cpu_us_per_msg <= 250. The simulator shares the
machine, so on a small one it competes with the daemon for the same cores.

Usage: ``python bench/campaign_throughput.py [--recipients N] [--rate R] [--dsn DSN]
[--ingest-workers N] [--no-statuses]``. ``--no-statuses`` has the simulator drop every
status webhook and stops the clock at the last send: the send path's own cost, to tell
it from the statuses' (2026-11-27: ~720 of ~750 µs per message were the send path).
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from campaign_harness import (
    CALM_KNOBS,
    Daemon,
    campaign_cli,
    campaign_file,
    control_call,
    start_sim,
    stop,
    write_audience,
    write_config,
)
from procstat import cpu_seconds, daemon_roles

SIM_KNOBS = [
    *CALM_KNOBS,
    "read_rate=1",
    "sent_delay_s=0",
    "delivered_delay_s=0.05",
    "read_delay_s=0.1",
    "webhook_batch_max=20",
    "webhook_batch_window_s=0.02",
    "webhook_concurrency=16",
]


def sustained(samples: list[tuple[float, int]], total: int) -> float:
    """Messages per second between 10 % and 90 % of ``total`` (interpolated between the
    polls): the rate once the campaign runs, without its start and its last stragglers."""

    def when(count: float) -> float:
        for (t0, d0), (t1, d1) in itertools.pairwise(samples):
            if d0 <= count <= d1 and d1 > d0:
                return t0 + (t1 - t0) * (count - d0) / (d1 - d0)
        raise ValueError(f"the polls never saw {count:.0f} messages")

    low, high = 0.1 * total, 0.9 * total
    return (high - low) / (when(high) - when(low))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=2000.0, help="campaign cap, msg/s")
    parser.add_argument("--dsn", default="", help="external PostgreSQL (default: embedded)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--ingest-workers",
        type=int,
        default=0,
        help="[webhook] ingest_workers (their CPU counts in cpu_us_per_msg)",
    )
    parser.add_argument(
        "--no-statuses",
        action="store_true",
        help="the simulator sends no status webhooks and the run ends at the last send:"
        " what the send path alone costs (a diagnosis, not the goal's figure)",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="metad-tput-"))
    config = write_config(
        tmp,
        wabas=4,
        chips_per_waba=5,
        contacts=args.recipients,
        dsn=args.dsn,
        ingest_workers=args.ingest_workers,
    )
    from config import load_config

    cfg = load_config(config)
    sim, daemon = None, Daemon(config, tmp / "metad.log")
    try:
        knobs = [*SIM_KNOBS, "webhook_drop_rate=1"] if args.no_statuses else SIM_KNOBS
        sim = start_sim(config, tmp / "sim.log", knobs)
        write_audience(cfg.graph.base_url, args.recipients, tmp / "campaigns" / "people.csv")
        campaign_file(
            tmp / "campaigns" / "tput.toml",
            "tput",
            rate=args.rate,
            cap=None,
            extra="max_in_flight = 2000",
        )
        daemon.start()
        time.sleep(2.0)  # template sync and the chips' first poll
        assert daemon.proc is not None
        roles = daemon_roles(daemon.proc.pid, None if args.dsn else cfg.daemon.state_dir)
        cpu0, t0 = cpu_seconds(roles), time.monotonic()
        campaign_cli(config, "start", str(tmp / "campaigns" / "tput.toml"))
        socket_path = cfg.daemon.runtime_dir / "metad.sock"
        sent_at = None
        samples: list[tuple[float, int]] = []
        while True:
            status = control_call(socket_path, "campaign.status", {"name": "tput"})
            # A message left in doubt (a crash mid-POST) or dropped is handled too:
            # counting only "sent" would wait out the 20 minutes for it.
            done = sum(status[k] for k in ("sent", "skipped", "refused", "dropped", "in_doubt"))
            samples.append((time.monotonic(), done))
            if sent_at is None and done >= args.recipients:
                sent_at = time.monotonic()
            read = status["read"] + status["failed"] >= status["sent"]
            if sent_at is not None and (read or args.no_statuses):
                break
            if time.monotonic() - t0 > 1200:
                raise SystemExit(f"not done after 20 min: {status}")
            time.sleep(0.25)
        t1 = time.monotonic()
        cpu1 = cpu_seconds(roles)
        used = {role: cpu1[role] - cpu0.get(role, 0.0) for role in cpu1}
        cpu = used["daemon"] + used["ingest"]  # the workers' intake is the daemon's work
        pg = used.get("postgres", 0.0)
        n = status["sent"]
        assert sent_at is not None
        print(f"recipients={args.recipients}")
        print(f"msgs_per_s={sustained(samples, args.recipients):.0f}")
        print(f"msgs_per_s_overall={n / (sent_at - t0):.0f}")
        first = next(t for t, done in samples if done > 0)
        print(f"first_send_s={first - t0:.1f}")
        print(f"cpu_us_per_msg={cpu / n * 1e6:.0f}")
        print(f"pg_cpu_us_per_msg={pg / n * 1e6:.0f}")
        print(f"ingest_cpu_us_per_msg={used['ingest'] / n * 1e6:.0f}")
        print(f"ingest_workers={args.ingest_workers}")
        if not args.no_statuses:
            print(f"statuses_per_s={3 * n / (t1 - t0):.0f}")
        print(f"seconds={t1 - t0:.1f}")
    finally:
        daemon.stop()
        stop(sim)
        if args.keep:
            print(f"workdir={tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
