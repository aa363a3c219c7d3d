"""``metad ctl`` subcommands for OTP, shift confirmation and the window keeper.

Kept here so :mod:`daemon.ctl` only registers them: ``otp send|verify``,
``shift send|status``, ``keep`` (mark/unmark a conversation) and ``kept``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["COMMANDS", "add_arguments", "run"]

COMMANDS = ("otp", "shift", "keep", "kept")


def add_arguments(sub: Any, common: argparse.ArgumentParser) -> None:
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


def _call(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    match args.ctl_command, getattr(args, "action", None):
        case "otp", "send":
            return "otp.send", {"chip": args.chip, "to": args.to, "purpose": args.purpose}
        case "otp", _:
            return "otp.verify", {"to": args.to, "purpose": args.purpose, "code": args.code}
        case "shift", "send":
            params = {"chip": args.chip, "to": args.to, "shift_id": args.shift_id}
            return "shift.confirm.send", {**params, "params": args.param}
        case "shift", _:
            return "shift.status", {"to": args.to, "shift_id": args.shift_id}
        case "keep", _:
            return "window.keep", {
                "chip": args.chip,
                "contact": args.contact,
                "active": not args.off,
            }
    return "window.kept", {}


async def run(client: Any, args: argparse.Namespace) -> int:
    """Exit 0 when done (code valid, message sent), 1 otherwise."""
    method, params = _call(args)
    result = await client.call(method, {k: v for k, v in params.items() if v is not None})
    if args.json or not isinstance(result, dict):
        print(json.dumps(result))
    else:
        print("  ".join(f"{k}={v}" for k, v in result.items()))
    if isinstance(result, dict) and ("valid" in result or "result" in result):
        return 0 if result.get("valid") or result.get("result") == "sent" else 1
    return 0
