"""``metad campaign …``: plan a campaign file, and drive campaigns on the running daemon.

Why ``plan`` works without the daemon: it reads only the file, its data and the store,
so it can be run (and re-run) while writing the campaign, before anything is started.
Every other action goes over the control socket, because only the running daemon may
send.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.ctl import ANSWER_TIMEOUT_S, SLOW_ANSWER_TIMEOUT_S, control_socket

if TYPE_CHECKING:
    from config import MetadConfig
    from daemon.store import Store
    from daemon.templates_cli import WithStore

__all__ = ["add_arguments", "run"]

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2
SKIPPED_SHOWN = 50
"""Skipped rows ``plan --skipped`` prints before "… N more" (``--skipped-all``: all)."""


_NAME = "the campaign's name (its file's \"name\")"
_FILE_OR_NAME = "a campaign file, or the name of one in the campaigns directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="control socket (default: the config's runtime dir; with it, no config is read"
        " for the actions the daemon runs)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"give up on a daemon that does not answer (default {ANSWER_TIMEOUT_S:g};"
        f" {SLOW_ANSWER_TIMEOUT_S:g} for start, which stores every recipient)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sub = parser.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")
    p = sub.add_parser(
        "plan",
        help="dry run: who would get what, what it costs, how long (several: one after another)",
    )
    p.add_argument(
        "campaign", metavar="FILE|NAME", nargs="+", help=_FILE_OR_NAME + " (one or more)"
    )
    p.add_argument(
        "--skipped",
        action="store_true",
        help=f"list the skipped rows: where, the phone as given, why (the first {SKIPPED_SHOWN})",
    )
    p.add_argument("--skipped-all", action="store_true", help="--skipped, every row")
    s = sub.add_parser("start", help="create the campaign from its file (first time) and run it")
    s.add_argument("campaign", metavar="FILE|NAME", help=_FILE_OR_NAME)
    for action, text in (
        ("pause", "stop taking new recipients; messages in flight finish"),
        ("resume", "continue a paused campaign where it stopped"),
        ("cancel", "end the campaign; recipients not yet sent stay unsent"),
        ("status", "progress: sent, delivered, read, replied, failed, skipped, cost, ETA"),
    ):
        a = sub.add_parser(action, help=text)
        a.add_argument("campaign", metavar="NAME", help=_NAME)
        if action in ("pause", "cancel"):
            a.add_argument("--reason", help="shown in the console and the status")
    sub.add_parser("list", help="every campaign with its state and counts")
    t = sub.add_parser(
        "taps", help="who tapped what on the campaign's buttons and cards (daemon not needed)"
    )
    t.add_argument("campaign", metavar="NAME", help=_NAME)
    t.add_argument("--csv", action="store_true", help="CSV for a spreadsheet instead of a table")
    r = sub.add_parser("resolve", help="answer for a message a crash left in doubt")
    r.add_argument("campaign", metavar="NAME", help=_NAME)
    r.add_argument("recipient", metavar="RECIPIENT", help="its key, as `status` lists it")
    r.add_argument(
        "action",
        choices=["resend", "drop"],
        help="resend: send it again (the contact may get it twice); drop: give it up",
    )


def run(
    args: argparse.Namespace, load: Callable[[str], MetadConfig], *, with_store: WithStore
) -> int:
    """``with_store``: runs one query on the configured store (``daemon.cli``'s), for the
    actions that read it directly, daemon running or not. ``load`` reads and checks the
    config; only those actions need it: the others find the daemon's socket as ``metad
    ctl`` does, so a config being edited does not lock the operator out of a campaign."""
    if args.campaign_command == "plan":
        return _plan(args, load(args.config), with_store)
    if args.campaign_command == "taps":
        return _taps(args, load(args.config), with_store)
    return _remote(args)


def _taps(args: argparse.Namespace, cfg: MetadConfig, with_store: WithStore) -> int:
    """The answers a campaign got, read from the store (the daemon may be stopped)."""
    from daemon.store.campaigns import Tap

    async def read(store: Store) -> tuple[bool, list[Tap]]:
        known = await store.campaigns.get(args.campaign) is not None
        return known, await store.campaigns.taps(args.campaign)

    known, taps = with_store(cfg, read)
    if not known:
        print(f"metad campaign: no campaign {args.campaign!r}", file=sys.stderr)
        return EXIT_RUNTIME
    rows = [
        {
            "at": t.at.astimezone(cfg.tz).isoformat(timespec="seconds"),
            "recipient": t.recipient or "",
            "wa_id": t.wa_id or "",
            "ref": t.ref,
            "text": t.text or "",
            "chip": t.chip or "",
        }
        for t in taps
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    elif args.csv:
        import csv

        out = csv.DictWriter(sys.stdout, fieldnames=list(_TAP_COLUMNS), lineterminator="\n")
        out.writeheader()
        out.writerows(rows)
    else:
        print(
            _grid([list(_TAP_COLUMNS.values())] + [[row[k] for k in _TAP_COLUMNS] for row in rows])
        )
        print(f"{len(rows)} tap(s)", file=sys.stderr)
    return EXIT_OK


_TAP_COLUMNS = {
    "at": "TIME",
    "recipient": "RECIPIENT",
    "wa_id": "WA_ID",
    "ref": "TAPPED",
    "text": "TEXT",
    "chip": "CHIP",
}


def _plan(args: argparse.Namespace, cfg: MetadConfig, with_store: WithStore) -> int:
    from daemon.campaigns.service import find_campaign_file, load_prepared, plan

    # Every name resolved first: a typo in the third is said before two plans are read.
    paths = [find_campaign_file(cfg, name) for name in args.campaign]
    # A large audience takes seconds per 100,000 rows: say what is happening, on a
    # terminal only (stdout stays the plan, for a pipe or --json).
    say = _stage if sys.stderr.isatty() else (lambda _: None)

    listed = args.skipped or args.skipped_all

    async def go(store: Store) -> list[dict[str, Any]]:
        results = []
        for path in paths:
            now = dt.datetime.now(dt.UTC)
            say(f"reading {path.name} and its data …")
            prepared = await load_prepared(store, cfg, path, now=now)
            say(f"routing and pricing {prepared.sendable:,} messages …")
            results.append(await plan(store, cfg, prepared, now=now, list_skipped=listed))
            say("")
        return results

    results: list[dict[str, Any]] = with_store(cfg, go)
    for n, result in enumerate(results):
        if args.json:  # one object per line (JSON lines), one line for one campaign
            print(json.dumps(result, ensure_ascii=False))
            continue
        if n:
            print()
        print(format_plan(result))
        if listed:
            print(skipped_text(result["skipped_rows"], None if args.skipped_all else SKIPPED_SHOWN))
    return EXIT_OK


def skipped_text(rows: list[dict[str, Any]], limit: int | None) -> str:
    """``plan --skipped``: each skipped row where it is, its phone as given and why; the
    first ``limit`` (None: all), then how many more, so a terminal is not flooded."""
    if not rows:
        return "skipped rows: none"
    shown = rows if limit is None else rows[:limit]
    cells = [["AT", "PHONE", "REASON"]] + [[r["at"], r["phone"], r["reason"]] for r in shown]
    lines = ["skipped rows:", *("  " + line for line in _grid(cells).splitlines())]
    if len(shown) < len(rows):
        lines.append(f"  … {len(rows) - len(shown)} more (--skipped-all lists them all)")
    return "\n".join(lines)


def _stage(text: str) -> None:
    """One status line on the terminal, replaced by the next (cleared by an empty one)."""
    print(f"\r\033[K{text}", end="" if text else "\r", file=sys.stderr, flush=True)


def format_plan(p: dict[str, Any]) -> str:
    from daemon.campaigns.reach import span_text

    # The header says what the body's "valid" says: the messages routed and filled, not
    # those before routing (it read "3 messages to send" over "valid 2").
    lines = [
        f"campaign {p['campaign']}: {p['recipients']} rows, {p['valid']} messages to send",
        f"  valid            {p['valid']:>8}",
        f"  skipped          {p['skipped']:>8}",
    ]
    lines += [f"    {why:<30}{n:>6}" for why, n in sorted(p["skipped_by_reason"].items())]
    lines += [
        f"  free (in window) {p['free_in_window']:>8}",
        f"  need a template  {p['need_template']:>8}",
    ]
    for cat, row in sorted(p["by_category"].items()):
        lines.append(f"    {cat:<14}{row['messages']:>8}  ~${row['cost_usd']:.4f}")
    cap = p.get("budget_usd")
    cap_text = f" (campaign cap ${cap:.2f})" if cap is not None else ""
    lines.append(f"  estimated cost   ${p['estimated_cost_usd']:.4f}{cap_text}")
    if p["unknown_price"]:
        lines.append(f"  no price for     {p['unknown_price']:>8} (destination not in the table)")
    lines.append("  by chip:")
    lines += [f"    {chip:<18}{n:>8}" for chip, n in sorted(p["by_chip"].items())]
    for waba, problem in p["template_problems"].items():
        lines.append(f"  WABA {waba}: {problem}")
    if p["cards"]:
        lines.append(f"  carousel: {len(p['cards'])} message(s) of {p['cards'][0]} cards each")
    if p.get("listings"):
        lines.append(f"  listings: {listings_text(p['listings'], p['cards'])}")
    rate = p["rate_per_s"]
    if p["send_seconds"] is not None:
        lines.append(
            f"  duration         {span_text(p['send_seconds'])} of sending at {rate:g}/s;"
            f" expected end {p['expected_end'] or 'beyond the schedule'}"
        )
    else:
        lines.append("  duration         unknown: no healthy chip can send it")
    lines += [f"  budget: {note}" for note in p.get("budget_notes", [])]
    return "\n".join(lines)


def listings_text(listings: dict[str, Any], cards: list[int]) -> str:
    """``6 on cards, 5 not open, 14 left out (max_messages = 3)``: the listings that will
    not be shown, and why, next to those that will."""
    text = f"{listings['used']} on cards, {listings['closed']} not open"
    left = listings["left_out"]
    if not left:
        return text
    if listings["overflow"] != "split":
        why = 'overflow = "truncate": one carousel'
    elif len(cards) >= listings["max_messages"]:
        why = f"max_messages = {listings['max_messages']}"
    else:
        why = f"too few for another carousel of {cards[0] if cards else '?'}"
    return f"{text}, {left} left out ({why})"


_STATUS_COLUMNS = (
    ("id", "CAMPAIGN"),
    ("state", "STATE"),
    ("total", "TOTAL"),
    ("pending", "PENDING"),
    ("sent", "SENT"),
    ("delivered", "DELIV"),
    ("read", "READ"),
    ("replied", "REPLIED"),
    ("failed", "FAILED"),
    ("skipped", "SKIPPED"),
    ("in_doubt", "DOUBT"),
    ("taps", "TAPS"),
    ("cost_usd", "COST $"),
    ("eta_s", "ETA"),
)


def _table(rows: list[dict[str, Any]]) -> str:
    from daemon.campaigns.reach import span_text

    def cell(row: dict[str, Any], key: str) -> str:
        value = row.get(key)
        if value is None:
            return "-"
        return span_text(float(value)) if key == "eta_s" else str(value)

    cells = [[head for _, head in _STATUS_COLUMNS]]
    cells += [[cell(row, k) for k, _ in _STATUS_COLUMNS] for row in rows]
    return _grid(cells)


def _grid(cells: list[list[str]]) -> str:
    """Rows of cells as left-aligned columns, the first row the header."""
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )


def _remote(args: argparse.Namespace) -> int:
    import trio

    from daemon.control.client import ControlError, NotRunning, connect
    from daemon.control.protocol import INVALID_PARAMS

    where = control_socket(args.config, args.socket)
    command = args.campaign_command
    timeout = args.timeout or (SLOW_ANSWER_TIMEOUT_S if command == "start" else ANSWER_TIMEOUT_S)
    params: dict[str, Any] = {}
    if command != "list":
        target = args.campaign
        if command == "start" and (target.endswith(".toml") or Path(target).exists()):
            params["file"] = str(Path(target).absolute())
        else:
            params["name"] = target
    if getattr(args, "reason", None):
        params["reason"] = args.reason
    if command == "resolve":
        params.update(recipient=args.recipient, action=args.action)

    async def go() -> Any:
        async with connect(where.path, timeout=timeout) as client:
            result = await client.call(f"campaign.{command}", params)
            if command == "resolve" and not result["resolved"]:
                # Nothing resolved: for a campaign the coordinator does not know as well;
                # its status says "no campaign 'x'" (a ControlError) as for status and taps.
                await client.call("campaign.status", {"name": params["name"]})
            return result

    try:
        result = trio.run(go)
    except (NotRunning, ControlError) as exc:
        if isinstance(exc, ControlError) and exc.code == INVALID_PARAMS and command == "start":
            print(exc, file=sys.stderr)  # the file's problems, file:line: field: problem
            return EXIT_CONFIG
        print(f"metad campaign: {exc}", file=sys.stderr)
        if isinstance(exc, NotRunning) and where.guessed:
            print(f"metad campaign: {where.guessed}", file=sys.stderr)
        return EXIT_RUNTIME
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    elif command == "resolve":
        if result["resolved"]:
            print("resolved")
        else:
            print(f"metad campaign: nothing in doubt for {args.recipient}", file=sys.stderr)
    else:
        print(status_text(result if isinstance(result, list) else [result]))
    # A script that resolves a message must know when there was nothing to resolve.
    return EXIT_RUNTIME if command == "resolve" and not result["resolved"] else EXIT_OK


def status_text(rows: list[dict[str, Any]]) -> str:
    """``metad campaign status|list`` for a person: the table, then a line per thing to
    know about a campaign (why it stopped, what it waits for, messages in doubt)."""
    lines = [_table(rows)]
    for row in rows:
        if row.get("reason"):
            lines.append(f"{row['id']}: {row['reason']}")
        if row.get("waiting"):
            lines.append(f"{row['id']}: waiting: {row['waiting']}")
        for waba, problem in sorted((row.get("template_problems") or {}).items()):
            lines.append(f"{row['id']}: WABA {waba}: {problem}")
        for item in row.get("in_doubt_overdue", []):
            lines.append(f"{row['id']}: in doubt: {item['recipient']} (outbox {item['outbox_id']})")
        if row.get("history_pruned"):
            lines.append(
                f"{row['id']}: figures as frozen when its message history was pruned"
                " ([storage.retention] messages_days)"
            )
    return "\n".join(lines)
