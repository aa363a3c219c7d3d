"""What pruning the message history costs on a grown database.

Fills a fresh store (embedded PostgreSQL, or ``--dsn``) with ``--messages`` (200,000)
finished messages past ``messages_days``: two thirds outside campaigns, one third in
finished campaigns of 10,000 recipients each, every one with a reservation and a
settlement in the budget journal; plus as many young messages and a few old ones that
must stay (in doubt, or holding a reservation). Then runs the retention job's pruning as
the leader would, without its 30 s budget per run, and prints, one per line:

  messages            old finished messages written
  pruned_rows         rows deleted (outbox + budget journal + campaign recipients)
  prune_s             seconds for the whole backlog
  rows_per_s          pruned_rows / prune_s
  idle_prune_s        a second pruning right after, with nothing left to delete: what
                      every hourly run costs once the backlog is gone
  kept_ok             1 when exactly the rows that must stay are left

Usage: ``python bench/retention.py [--messages N] [--dsn DSN]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from daemon.store import Store
from tests.support import write_demo_config

CAMPAIGN_SIZE = 10_000

# $1 messages, $2 age in days, $3 campaign id (NULL: none), $4 first recipient number.
_MESSAGES = """
WITH o AS (
    INSERT INTO outbox (chip, wa_id, kind, payload, state, campaign_id, recipient_id,
                        created_at, updated_at)
    SELECT $5, '55119' || lpad(n::text, 8, '0'), 'template',
           '{"template": {"name": "shift_offer", "language": {"code": "pt_BR"}}}',
           (ARRAY['sent', 'delivered', 'read', 'failed'])[1 + n % 4], $3,
           CASE WHEN $3::text IS NULL THEN NULL ELSE 'r' || ($4 + n) END,
           now() - make_interval(days => $2) - make_interval(secs => n),
           now() - make_interval(days => $2) - make_interval(secs => n)
    FROM generate_series(1, $1) AS n
    RETURNING id, campaign_id, recipient_id, created_at
), r AS (
    INSERT INTO campaign_recipients (campaign_id, recipient_key, wa_id, state, outbox_id, seq)
    SELECT campaign_id, recipient_id, '5511', 'handed', id, id FROM o
    WHERE campaign_id IS NOT NULL
)
INSERT INTO budget_ledger (kind, ref, outbox_id, category, amount_usd, at, campaign_id)
SELECT k.kind, 'o:' || o.id, o.id, 'marketing', 0.0625, o.created_at, o.campaign_id
FROM o, (VALUES ('reservation'), ('settlement')) AS k(kind)
"""


async def fill(db: Store, messages: int, chip: str) -> int:
    """Write the history; returns how many outbox rows must stay."""
    await db.execute("INSERT INTO wabas (waba_id) VALUES ('100') ON CONFLICT DO NOTHING")
    await db.execute(
        "INSERT INTO chips (phone_number_id, waba_id, display_number)"
        " VALUES ($1, '100', '+55') ON CONFLICT DO NOTHING",
        chip,
    )
    in_campaigns = messages // 3
    campaigns = max(1, in_campaigns // CAMPAIGN_SIZE)
    for c in range(campaigns):
        cid = f"bench-{c}"
        await db.execute(
            "INSERT INTO campaigns (id, name, spec, state, finished_at)"
            " VALUES ($1, $1, '{}', 'finished', now() - interval '200 days')",
            cid,
        )
        await db.execute(_MESSAGES, CAMPAIGN_SIZE, 200, cid, c * CAMPAIGN_SIZE, chip)
    standalone = messages - campaigns * CAMPAIGN_SIZE
    # Ids grow with time, as in a real outbox: the old messages first, then the young.
    for age in (200, 10):
        for start in range(0, standalone, 50_000):
            n = min(50_000, standalone - start)
            await db.execute(_MESSAGES, n, age, None, 0, chip)
    # Old rows that must stay: in doubt, and one whose reservation is still open.
    await db.execute(
        "UPDATE outbox SET state = 'in_doubt' WHERE id IN"
        " (SELECT id FROM outbox WHERE campaign_id IS NULL ORDER BY id LIMIT 10)"
    )
    await db.execute(
        "DELETE FROM budget_ledger WHERE kind = 'settlement' AND outbox_id IN"
        " (SELECT id FROM outbox WHERE campaign_id IS NULL ORDER BY id OFFSET 10 LIMIT 10)"
    )
    await db.execute("ANALYZE")
    young = standalone
    return young + 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--dsn", default="", help="external PostgreSQL (default: embedded)")
    args = parser.parse_args()

    from config import load_config
    from config.model import RetentionConfig
    from daemon.store import open_store
    from daemon.store.retention import RetentionRepository

    with tempfile.TemporaryDirectory(prefix="metad-retention-") as tmp:
        cfg = load_config(write_demo_config(Path(tmp), dsn=args.dsn))

        async def run() -> None:
            async with open_store(cfg.storage, state_dir=cfg.daemon.state_dir) as store:
                if args.dsn:  # an external server's database may hold an earlier run
                    await store.execute(
                        "TRUNCATE outbox, budget_ledger, campaign_recipients, campaigns CASCADE"
                    )
                must_stay = await fill(store, args.messages, "555")
                repo = RetentionRepository(store)
                keep = RetentionConfig()
                t0 = time.monotonic()
                pruned = await repo.prune(keep)
                took = time.monotonic() - t0
                t1 = time.monotonic()
                await repo.prune(keep)
                idle = time.monotonic() - t1
                left = await store.fetchval("SELECT count(*) FROM outbox")
                rows = sum(
                    pruned.rows[t] for t in ("outbox", "budget_ledger", "campaign_recipients")
                )
                print(f"messages={args.messages}")
                print(f"pruned_rows={rows}")
                print(f"prune_s={took:.2f}")
                print(f"rows_per_s={rows / took:.0f}")
                print(f"idle_prune_s={idle:.3f}")
                print(f"kept_ok={int(left == must_stay and pruned.complete)}")

        trio.run(run)


if __name__ == "__main__":
    main()
