"""How long ``metad run`` takes from process start to its READY line.

Prints, one per line:
  startup_to_ready_s        median over warm starts (existing data directory: every
                            restart after the first, the case systemd lives with)
  startup_cold_to_ready_s   the first start on an empty state directory (initdb included)
Goal: startup_to_ready_s <= 2.

With ``--budget-messages N`` the budget journal then gets N messages of history (a
reservation and a settlement each, spread evenly over what a start without a checkpoint
replays: from the oldest current period, or 8 days back, to now) and it also prints:
  budget_entries                      journal entries written
  startup_first_with_budget_history_s the first start after (no budget checkpoint yet: it
                                      replays the journal back to the oldest current
                                      period, at least 8 days and up to a month)
  budget_replay_us_per_entry          (that − startup_to_ready_s) / budget_entries
  startup_with_budget_history_s       median of the starts after it (each restores the
                                      checkpoint the previous clean stop wrote)
See bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from tests.support import Daemon, write_demo_config

_HISTORY = """
INSERT INTO budget_ledger (kind, ref, amount_usd, at, waba_id, campaign_id)
SELECT k.kind, 'o:' || (1000000000 + n), 0.0625,
       $2::timestamptz - make_interval(secs => (n::float8 / $1) * $3) + k.lag,
       '100000000000001', 'bench'
FROM generate_series(1, $1) AS n,
     (VALUES ('reservation', interval '0'), ('settlement', interval '2 seconds')) AS k(kind, lag)
"""


def add_budget_history(config: Path, messages: int) -> int:
    """Write ``messages`` reserved-and-settled messages into the daemon's store (its
    embedded PostgreSQL is started for this and stopped again); returns the entries."""
    from actors.budget.ledger import Ledger
    from config import load_config
    from daemon.store import open_store

    cfg = load_config(config)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    span = now.timestamp() - Ledger(tz=cfg.tz).replay_from(now.timestamp()) - 60

    async def write() -> int:
        async with open_store(cfg.storage, state_dir=cfg.daemon.state_dir) as store:
            await store.execute(_HISTORY, messages, now, span)
            return int(await store.fetchval("SELECT count(*) FROM budget_ledger"))

    return trio.run(write)


def one_start(config: Path) -> float:
    d = Daemon(config)
    try:
        d.wait_for("READY", timeout=120)
        elapsed = time.monotonic() - d.started_at
        d.proc.send_signal(signal.SIGTERM)
        code, err = d.rest(timeout=20)
        if code != 0:
            raise SystemExit(f"metad exited {code}: {err}")
        return elapsed
    finally:
        d.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="warm starts to measure")
    parser.add_argument(
        "--budget-messages",
        type=int,
        default=0,
        metavar="N",
        help="then measure again with N messages of budget history (default: 0, skip)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="metad-bench-") as tmp:
        config = write_demo_config(Path(tmp))
        cold = one_start(config)
        warm = [one_start(config) for _ in range(args.runs)]
        print(f"startup_cold_to_ready_s={cold:.3f}")
        print(f"startup_to_ready_s={statistics.median(warm):.3f}")
        if args.budget_messages > 0:
            entries = add_budget_history(config, args.budget_messages)
            first = one_start(config)
            later = statistics.median(one_start(config) for _ in range(args.runs))
            extra = max(0.0, first - statistics.median(warm))
            print(f"budget_entries={entries}")
            print(f"startup_first_with_budget_history_s={first:.3f}")
            print(f"budget_replay_us_per_entry={extra / entries * 1e6:.1f}")
            print(f"startup_with_budget_history_s={later:.3f}")


if __name__ == "__main__":
    main()
