"""``metad ctl``: the control calls from the shell, as tables or ``--json``.

Why it exists beside the console: scripts and cron jobs need the same actions (pause a
chip, send a test message, read counters) with exit codes: 0 done, 1 the daemon refused,
is not running or did not answer in time, 2 bad usage.

Why it does not load the config: ``metad ctl`` is what an operator reaches for when
something is wrong, the config file included. ``ctl reload`` exists to have the daemon
say what is wrong with an edited file, so a file that would not load must not stop
``ctl`` from reaching the daemon. Only ``[daemon].runtime_dir`` is read from it, to find
the socket, and nothing at all with ``--socket``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ANSWER_TIMEOUT_S",
    "DEFAULT_RUNTIME_DIR",
    "SLOW_ANSWER_TIMEOUT_S",
    "ControlSocket",
    "add_arguments",
    "control_socket",
    "run",
]

DEFAULT_RUNTIME_DIR = Path("var/run")
"""``DaemonConfig.runtime_dir``'s default (a test keeps them equal): repeated here so
finding the socket needs neither pydantic nor a valid config."""

ANSWER_TIMEOUT_S = 10.0
"""How long a call waits to connect and for its answer, unless ``--timeout`` says."""
SLOW_ANSWER_TIMEOUT_S = 70.0
"""The same for calls whose answer waits on Meta or on draining chips: the daemon bounds
a Graph send or a template sync at 60 s, a reload's drain by
``daemon.shutdown_timeout_s`` (at most 60 s). A daemon that is working is not cut short;
one that does not answer at all is still reported."""

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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="control socket (default: <daemon.runtime_dir>/metad.sock; the config file is"
        " then not read)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help=f"give up when the daemon has not answered within SECONDS (default"
        f" {ANSWER_TIMEOUT_S:g}; {SLOW_ANSWER_TIMEOUT_S:g} for send-test, otp, shift,"
        " templates sync and reload); a live event stream is never cut short",
    )
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
    send.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="VALUE",
        help="the template's next body parameter ({{1}}, {{2}}…), once per parameter",
    )
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
    events.add_argument(
        "--json", action="store_true", help="the default: events are JSON lines either way"
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
    shift.add_argument(
        "--again",
        action="store_true",
        help="send: offer it again even if the contact already confirmed or declined",
    )
    keep = sub.add_parser(
        "keep", help="mark a conversation for the window keeper (--off to unmark)", parents=[common]
    )
    keep.add_argument("--chip", required=True, metavar="PHONE_NUMBER_ID")
    keep.add_argument("--contact", required=True, metavar="NUMBER")
    keep.add_argument("--off", action="store_true")
    sub.add_parser("kept", help="the conversations the window keeper watches", parents=[common])


_ELSEWHERE_UNKNOWN = frozenset({"open_windows", "mps", "queued", "tier"})
"""What only a chip's own node knows: ``-`` in a row of a chip running on another."""


def _status_table(chips: list[dict[str, Any]]) -> str:
    """The fleet, with an OWNER column when several nodes run its chips: a chip of another
    node shows ``-`` for what only its node knows (its zeros read as facts)."""
    if len({c.get("owner") for c in chips}) < 2:  # one node (or none named): no news
        return _table(chips, CHIP_COLUMNS)
    rows = [
        {k: "-" if k in _ELSEWHERE_UNKNOWN else v for k, v in c.items()}
        if c.get("mode") == "elsewhere"
        else c
        for c in chips
    ]
    return _table(rows, (*CHIP_COLUMNS, ("owner", "OWNER")))


def _table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...]) -> str:
    cells = [[head for _, head in columns]]
    cells += [[str(row.get(key, "")) for key, _ in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells)


@dataclass(frozen=True, slots=True)
class ControlSocket:
    """Where the daemon's control socket should be."""

    path: Path
    guessed: str | None = None
    """Why ``path`` is in the default runtime dir rather than the one the config names
    (unreadable file, broken TOML): said only when no daemon answers there."""


def control_socket(config: str, socket: str | None) -> ControlSocket:
    """``--socket`` as given, else ``metad.sock`` in the config's ``[daemon].runtime_dir``.

    The file is read tolerantly: only that one key, relative to the file's directory as
    the loader anchors it, the default when it is absent. Anything else in the file may
    be wrong (that is what ``ctl reload`` reports); when the file cannot be read or is
    not TOML, the default runtime dir is tried.
    """
    if socket:
        return ControlSocket(Path(socket))
    file = Path(config)
    base = file.absolute().parent
    try:
        raw = tomllib.loads(file.read_bytes().decode("utf-8"))
    except OSError as exc:
        return _guessed(base, f"{config}: cannot read ({exc.strerror or exc})")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return _guessed(base, f"{config}: invalid TOML ({exc})")
    runtime_dir = _runtime_dir(raw)
    if runtime_dir is None:
        return _guessed(base, f"{config}: daemon.runtime_dir is not a path")
    return ControlSocket(base / runtime_dir / "metad.sock")


def _runtime_dir(raw: dict[str, Any]) -> str | None:
    """``[daemon].runtime_dir`` as written, the default when absent; None when it is not
    a string (or ``daemon`` is not a table)."""
    daemon = raw.get("daemon", {})
    if not isinstance(daemon, dict):
        return None
    value = daemon.get("runtime_dir", str(DEFAULT_RUNTIME_DIR))
    return value if isinstance(value, str) else None


def _guessed(base: Path, why: str) -> ControlSocket:
    return ControlSocket(
        base / DEFAULT_RUNTIME_DIR / "metad.sock",
        f"{why}, so the socket was looked for in the default runtime dir; --socket PATH names it",
    )


def _timeout(args: argparse.Namespace) -> float:
    """``--timeout``, else the call's default (see :data:`SLOW_ANSWER_TIMEOUT_S`)."""
    given: float | None = getattr(args, "timeout", None)
    if given is not None:
        return given
    slow = args.ctl_command in ("send-test", "otp", "shift", "reload") or (
        args.ctl_command == "templates" and args.action == "sync"
    )
    return SLOW_ANSWER_TIMEOUT_S if slow else ANSWER_TIMEOUT_S


async def _run(args: argparse.Namespace, path: Path) -> int:
    from daemon.control.client import connect

    async with connect(path, timeout=_timeout(args)) as client:
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
                    print(_status_table(result["chips"]))
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
                if args.param:
                    params["params"] = args.param
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


def run(args: argparse.Namespace) -> int:
    """Make the call ``args`` name on the daemon's socket, found by :func:`control_socket`."""
    import trio

    from daemon.control.client import ControlError, NoAnswer, NotRunning

    where = control_socket(args.config, args.socket)
    try:
        return trio.run(_run, args, where.path)
    except NotRunning as exc:
        print(f"metad ctl: {exc}", file=sys.stderr)
        if where.guessed:
            print(f"metad ctl: {where.guessed}", file=sys.stderr)
        return 1
    except NoAnswer as exc:
        print(f"metad ctl: {exc}", file=sys.stderr)
        if args.ctl_command == "reload":
            print(
                "metad ctl: if the daemon got the request, the reload goes on; its log"
                " (or `metad ctl events --recent`) says how it ended",
                file=sys.stderr,
            )
        return 1
    except ControlError as exc:
        print(f"metad ctl: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `| head` closed the pipe: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
