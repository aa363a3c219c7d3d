"""``metad ctl`` subcommands for OTP, shift confirmation and the window keeper.

Kept here so :mod:`daemon.ctl` only dispatches them: ``otp send|verify``,
``shift send|status``, ``keep`` (mark/unmark a conversation) and ``kept``. Their
arguments are declared in :mod:`daemon.ctl`, because importing this module runs
:mod:`daemon.otp`, which loads the OTP service: ``metad ctl`` imports it only to run
one of these calls.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from actors.otp.rules import local_time

__all__ = ["COMMANDS", "human", "run"]

COMMANDS = ("otp", "shift", "keep", "kept")


def _call(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    match args.ctl_command, getattr(args, "action", None):
        case "otp", "send":
            return "otp.send", {"chip": args.chip, "to": args.to, "purpose": args.purpose}
        case "otp", _:
            return "otp.verify", {"to": args.to, "purpose": args.purpose, "code": args.code}
        case "shift", "send":
            params = {"chip": args.chip, "to": args.to, "shift_id": args.shift_id}
            force = True if args.again else None  # not sent at all unless asked
            return "shift.confirm.send", {**params, "params": args.param, "force": force}
        case "shift", _:
            return "shift.status", {"to": args.to, "shift_id": args.shift_id}
        case "keep", _:
            return "window.keep", {
                "chip": args.chip,
                "contact": args.contact,
                "active": not args.off,
            }
    return "window.kept", {}


def _shown(key: str, value: Any) -> Any:
    """A value as an operator reads it: an instant (``*_at``, epoch seconds) as a local
    ISO time, not a raw number."""
    if key.endswith("_at") and isinstance(value, int | float) and not isinstance(value, bool):
        return local_time(value)
    return value


def human(method: str, result: dict[str, Any]) -> str:
    """One line of ``key=value``, leaving out what does not apply (null or empty: no
    ``attempts_left`` when there was no code to guess at, no ``reason`` for a send)."""
    if method == "shift.status" and result.get("state") is None:
        return f"no offer of shift {result.get('shift_id')} to this contact"
    shown = {k: _shown(k, v) for k, v in result.items() if v is not None and v != ""}
    return "  ".join(f"{k}={v}" for k, v in shown.items())


async def run(client: Any, args: argparse.Namespace) -> int:
    """Exit 0 when done (code valid, message sent), 1 otherwise."""
    method, params = _call(args)
    result = await client.call(method, {k: v for k, v in params.items() if v is not None})
    if args.json or not isinstance(result, dict):
        print(json.dumps(result))
    else:
        print(human(method, result))
    if isinstance(result, dict) and ("valid" in result or "result" in result):
        return 0 if result.get("valid") or result.get("result") == "sent" else 1
    return 0
