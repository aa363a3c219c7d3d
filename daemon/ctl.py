"""``metad ctl``: the control calls from the shell, as tables or ``--json``.

Why it exists beside the console: scripts and cron jobs need the same actions (pause a
chip, send a test message, read counters) with exit codes: 0 done, 1 the daemon refused
or is not running, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run"]

CHIP_COLUMNS = (
    ("phone_number_id", "CHIP"),
    ("display_number", "NUMBER"),
    ("waba_id", "WABA"),
    ("quality_rating", "QUALITY"),
    ("mode", "MODE"),
    ("tier", "TIER"),
    ("open_windows", "WINDOWS"),
    ("mps", "MSG/S"),
    ("queued", "QUEUE"),
    ("sent_today", "SENT"),
    ("paused", "PAUSED"),
)


TEMPLATE_COLUMNS = (
    ("waba_id", "WABA"),
    ("name", "NAME"),
    ("language", "LANG"),
    ("category", "CATEGORY"),
    ("status", "STATUS"),
    ("quality", "QUALITY"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--socket", metavar="PATH", help="control socket (default: runtime dir)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = parser.add_subparsers(dest="ctl_command", required=True, metavar="CALL")
    sub.add_parser("status", help="the fleet: every chip's state", parents=[common])
    chip = sub.add_parser("chip", help="pause, resume or drain a chip", parents=[common])
    chip.add_argument("action", choices=["pause", "resume", "drain"])
    chip.add_argument("phone_number_id")
    chip.add_argument("--reason", default="operator", help="why (pause)")
    send = sub.add_parser(
        "send-test", help="send one message to a contact through a chip", parents=[common]
    )
    send.add_argument("--chip", required=True, metavar="PHONE_NUMBER_ID")
    send.add_argument("--to", required=True, metavar="NUMBER")
    send.add_argument("--text", help="free-form text (only inside the contact's window)")
    send.add_argument("--template", metavar="NAME:LANG", help="template outside the window")
    sub.add_parser("webhooks", help="webhook inbox counters", parents=[common])
    sub.add_parser("budget", help="spent, reserved and cap per day, week, month", parents=[common])
    templates = sub.add_parser(
        "templates", help="list or sync the WABAs' templates", parents=[common]
    )
    templates.add_argument("action", choices=["list", "sync"])
    events = sub.add_parser("events", help="stream live events (JSON lines) until interrupted")
    events.add_argument(
        "--recent",
        action="store_true",
        help="print what the daemon kept of earlier happenings (crashes, alerts, warnings,"
        " reloads) and exit",
    )
    _add_otp_arguments(sub, common)
    sub.add_parser(
        "reload", help="re-read the config file and apply it (as SIGHUP does)", parents=[common]
    )


def _add_otp_arguments(sub: Any, common: argparse.ArgumentParser) -> None:
    """The calls of :mod:`daemon.otp.ctl` (``otp``, ``shift``, ``keep``, ``kept``).

    Why here and not there: importing anything under :mod:`daemon.otp` runs its package,
    which loads the OTP service, the store and the Graph client, ~120 ms that every
    ``metad ctl`` call would wait for; only these calls import :mod:`daemon.otp.ctl`.
    """
    otp = sub.add_parser("otp", help="send or verify a one-time passcode", parents=[common])
    otp.add_argument("action", choices=["send", "verify"])
    otp.add_argument("--chip", metavar="PHONE_NUMBER_ID", help="the chip that sends (send)")
    otp.add_argument("--to", required=True, metavar="NUMBER", help="the contact")
    otp.add_argument("--purpose", default="login", help="what the code is for (login)")
    otp.add_argument("--code", help="the code the contact typed (verify)")
    shift = sub.add_parser(
        "shift", help="offer a shift to confirm, or its answer", parents=[common]
    )
    shift.add_argument("action", choices=["send", "status"])
    shift.add_argument("--chip", metavar="PHONE_NUMBER_ID")
    shift.add_argument("--to", required=True, metavar="NUMBER")
    shift.add_argument("--shift", required=True, metavar="ID", dest="shift_id")
    shift.add_argument("--param", action="append", default=[], help="body parameter (repeat)")
    keep = sub.add_parser(
        "keep", help="mark a conversation for the window keeper (--off to unmark)", parents=[common]
    )
    keep.add_argument("--chip", required=True, metavar="PHONE_NUMBER_ID")
    keep.add_argument("--contact", required=True, metavar="NUMBER")
    keep.add_argument("--off", action="store_true")
    sub.add_parser("kept", help="the conversations the window keeper watches", parents=[common])


def _table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...]) -> str:
    cells = [[head for _, head in columns]]
    cells += [[str(row.get(key, "")) for key, _ in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells)


async def _run(args: argparse.Namespace, path: Path) -> int:
    from daemon.control.client import connect

    async with connect(path) as client:
        match args.ctl_command:
            case "status":
                result = await client.call("status.snapshot")
                if args.json:
                    print(json.dumps(result))
                else:
                    d = result["daemon"]
                    print(
                        f"metad {d['version']}  up {d['uptime_s']:.0f}s  webhook {d['webhook_url']}"
                    )
                    print(_table(result["chips"], CHIP_COLUMNS))
            case "chip":
                params = {"phone_number_id": args.phone_number_id, "reason": args.reason}
                chip = await client.call(f"chip.{args.action}", params)
                print(json.dumps(chip) if args.json else _table([chip], CHIP_COLUMNS))
            case "send-test":
                params = {"chip": args.chip, "to": args.to}
                if args.text:
                    params["text"] = args.text
                if args.template:
                    params["template"] = args.template
                result = await client.call("send.test", params)
                if args.json:
                    print(json.dumps(result))
                else:
                    detail = result.get("wamid") or result.get("reason")
                    print(f"{result['result']}: outbox {result.get('outbox_id')} {detail}")
                return 0 if result["result"] == "sent" else 1
            case "webhooks":
                counts = await client.call("webhooks.stats")
                if args.json:
                    print(json.dumps(counts))
                else:
                    for name, value in counts.items():
                        print(f"{name:<20}{value:>12,}")
            case "budget":
                budget = await client.call("budget.status")
                if args.json:
                    print(json.dumps(budget))
                else:
                    for period, row in budget.items():
                        cap = row["cap"] or "no cap"
                        print(
                            f"{period:<6} spent {row['spent']:>10}  reserved {row['reserved']:>10}"
                            f"  cap {cap}"
                        )
            case "templates":
                found = await client.call(f"templates.{args.action}")
                if args.json:
                    print(json.dumps(found))
                elif args.action == "sync":
                    for waba, count in found.items():
                        print(f"WABA {waba}: {count} templates")
                else:
                    print(_table(found, TEMPLATE_COLUMNS))
            case "otp" | "shift" | "keep" | "kept":
                from daemon.otp.ctl import run as run_feature

                return await run_feature(client, args)
            case "events" if args.recent:
                for event in (await client.call("events.recent"))["events"]:
                    print(json.dumps(event))
            case "events":
                async for event in client.events():
                    print(json.dumps(event), flush=True)
            case "reload":
                result = await client.call("config.reload")
                if args.json:
                    print(json.dumps(result))
                return _print_reload(result, quiet=args.json)
    return 0


def _print_reload(result: dict[str, Any], *, quiet: bool) -> int:
    """0 applied, 1 applied but an actor would not start, 2 the config is invalid (the
    daemon keeps running on the previous one), as ``metad check`` would say."""
    errors: list[str] = result.get("errors", [])
    if not result.get("applied"):
        if not quiet:
            for line in errors:
                print(line, file=sys.stderr)
            print("metad ctl: config not reloaded; metad runs on the previous one", file=sys.stderr)
        return 2
    if not quiet:
        changes: dict[str, list[str]] = result.get("changes", {})
        waiting = changes.pop("needs_restart", [])
        print("reloaded" + ("" if changes else ": no change to apply"))
        for name, items in changes.items():
            print(f"  {name.replace('_', ' ')}: {', '.join(items)}")
        if waiting:
            print(f"  waiting for a restart of metad: {', '.join(waiting)}")
        for line in errors:
            print(f"metad ctl: {line}", file=sys.stderr)
    return 1 if errors else 0


def run(args: argparse.Namespace, runtime_dir: Path) -> int:
    import trio

    from daemon.control.client import ControlError, NotRunning

    path = Path(args.socket) if args.socket else runtime_dir / "metad.sock"
    try:
        return trio.run(_run, args, path)
    except NotRunning as exc:
        print(f"metad ctl: {exc}", file=sys.stderr)
        return 1
    except ControlError as exc:
        print(f"metad ctl: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `| head` closed the pipe: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
