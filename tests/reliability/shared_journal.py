"""The journal audit of the shared-budget scenario (:mod:`tests.reliability.shared_budget`):
read ``budget_ledger`` and ``budget_checkpoints`` and rebuild the daemon's own ledger
(:class:`~actors.budget.ledger.Ledger`) from the whole journal, and from each checkpoint
plus the journal after it, as a start does. Why apart: the scenario drives processes,
this only reads the database and compares totals, and is reusable by another scenario.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.reliability.harness import Stack

CAMPAIGN = "shared"


@dataclass
class Journal:
    """What the database holds of the budget: every entry (id order), the checkpoints."""

    entries: list[tuple[int, dict[str, Any]]]
    checkpoints: list[tuple[int, dict[str, Any]]]


def read_journal(dsn: str) -> Journal:
    """The whole ``budget_ledger`` and every stored checkpoint, read as a start reads
    them (the journal repository's entry form)."""
    import trio

    from config.model import StorageConfig
    from daemon.store import open_store
    from daemon.store.budget import _ENTRY, _entry

    async def run() -> Journal:
        cfg = StorageConfig(dsn=dsn, pool_min_size=1, pool_max_size=1)
        async with open_store(cfg, state_dir=Path("/nonexistent"), run_migrations=False) as db:
            rows = await db.fetch(f"SELECT id, {_ENTRY} FROM budget_ledger ORDER BY id")
            cps = await db.fetch("SELECT position, data FROM budget_checkpoints ORDER BY position")
        return Journal(
            [(int(r["id"]), _entry(r)) for r in rows],
            [(int(r["position"]), dict(r["data"])) for r in cps],
        )

    return trio.run(run)


Totals = dict[str, tuple[str, str]]
"""Per (scope, period) label: (spent, reserved), as decimal strings."""


def totals(ledger: Any, now: float, campaign: str) -> Totals:
    """The ledger's global day and month and the campaign's month, spent and reserved."""
    from actors.budget.values import GLOBAL, Scope

    out: Totals = {}
    for label, scope, kind in (
        ("global day", GLOBAL, "day"),
        ("global month", GLOBAL, "month"),
        ("campaign month", Scope.campaign(campaign), "month"),
    ):
        usage = ledger.usage(scope, kind, now)
        out[label] = (str(usage.spent), str(usage.reserved))
    return out


def replayed(cfg: Any, entries: Sequence[dict[str, Any]], checkpoint: Any = None) -> Any:
    """A ledger of ``cfg``'s caps and zone, from ``checkpoint`` (if any) and ``entries``."""
    from actors.budget.ledger import Ledger
    from actors.budget.values import LedgerEntry

    ledger = Ledger.from_config(cfg.budget, cfg.tz)
    if checkpoint is not None:
        ledger.restore(checkpoint)
    ledger.replay(LedgerEntry.from_json(e) for e in entries)
    return ledger


@dataclass
class Audit:
    full: Totals
    """The whole journal replayed (the truth)."""
    mismatches: list[str]
    """One line per checkpoint whose restore + later entries disagree with ``full``."""
    checked: int
    settled_usd: Decimal
    """The sum of each message's last settlement in the journal."""
    resettled: int
    """Messages with more than one settlement (a second price, often another daemon's)."""
    with_prev: int
    """Settlements that say which price they replace (written by a daemon that knew it)."""
    status_gaps: list[str] = field(default_factory=list)
    """Messages whose last settlement is not the last one naming the campaign: what
    ``campaign status`` sums as the message's price (its latest settlement of the
    campaign) then differs from what the budget counts."""
    error: str = ""


def audit_journal(
    cfg: Any, journal: Journal, now: float, extra: Sequence[tuple[int, dict[str, Any]]] = ()
) -> Audit:
    """Replay the journal whole, and from every checkpoint (stored now, or ``extra``
    ones snapshotted earlier) plus the entries after its position: the same totals."""
    entries = [e for _, e in journal.entries]
    settles: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        if e["op"] == "settle":  # a release after a settlement frees nothing
            settles.setdefault(e["id"], []).append(e)
    audit = Audit({}, [], 0, Decimal(0), 0, 0)
    audit.settled_usd = sum((Decimal(s[-1]["amount"]) for s in settles.values()), Decimal(0))
    audit.resettled = sum(1 for s in settles.values() if len(s) > 1)
    audit.with_prev = sum(1 for s in settles.values() for e in s if "prev" in e)
    for ref, s in settles.items():
        ours = [e for e in s if e.get("campaign") == CAMPAIGN]
        if not ours or ours[-1]["amount"] != s[-1]["amount"]:
            audit.status_gaps.append(
                f"{ref}: "
                + "; ".join(
                    f"{e['amount']} campaign={e.get('campaign')} prev={e.get('prev')}" for e in s
                )
            )
    try:
        audit.full = totals(replayed(cfg, entries), now, CAMPAIGN)
    except ValueError as exc:  # "journal reserves … twice": the journal itself is wrong
        audit.error = f"full replay: {exc}"
        return audit
    seen: set[int] = set()
    for position, data in [*extra, *journal.checkpoints]:
        if position in seen:
            continue
        seen.add(position)
        audit.checked += 1
        after = [e for i, e in journal.entries if i > position]
        try:
            got = totals(replayed(cfg, after, data), now, CAMPAIGN)
        except ValueError as exc:
            audit.mismatches.append(f"checkpoint {position}: {exc}")
            continue
        if got != audit.full:
            audit.mismatches.append(
                f"checkpoint {position} + {len(after)} entries: {got} != journal {audit.full}"
            )
    return audit


def live_totals(stack: Stack) -> dict[str, tuple[str, str]]:
    """A running daemon's own global day and month totals (``budget.status``)."""
    status = stack.call("budget.status", timeout=30)
    return {f"global {k}": (status[k]["spent"], status[k]["reserved"]) for k in ("day", "month")}


def same_totals(live: dict[str, tuple[str, str]], full: Totals) -> bool:
    return all(
        tuple(Decimal(x) for x in v) == tuple(Decimal(x) for x in full[k]) for k, v in live.items()
    )


def settled_views(
    stacks: Sequence[Stack], dsn: str, tries: int = 5
) -> tuple[dict[str, dict[str, tuple[str, str]]], Totals, float]:
    """Every running daemon's live totals and the whole journal's, read while no entry
    was written (the journal's length the same before and after): the views to compare.
    Why the retries: a late price or the reconciliation may still book meanwhile."""
    live: dict[str, dict[str, tuple[str, str]]] = {}
    full: Totals = {}
    now = time.time()
    for _ in range(tries):
        time.sleep(2.5)  # two catch-ups: every daemon has learnt every entry
        before = read_journal(dsn)
        now = time.time()
        live = {s.tmp.name: live_totals(s) for s in stacks if s.alive()}
        after = read_journal(dsn)
        try:
            full = totals(replayed(stacks[0].cfg, [e for _, e in after.entries]), now, CAMPAIGN)
        except ValueError:  # reported by the audit
            full = {}
        if len(before.entries) == len(after.entries):
            break
    return live, full, now
