"""``metad ctl otp|shift``: what each command line asks the daemon."""

from __future__ import annotations

import argparse

from actors.otp.rules import local_time
from daemon.cli import build_parser
from daemon.otp.ctl import _call, human


def _args(line: str) -> argparse.Namespace:
    return build_parser().parse_args(["ctl", *line.split()])


def test_shift_send_asks_again_only_with_again() -> None:
    base = "shift send --chip 1 --to 2 --shift V1002 --param Carla"
    method, params = _call(_args(base))
    assert (method, params["force"]) == ("shift.confirm.send", None)  # not sent
    method, params = _call(_args(base + " --again"))
    assert params == {
        "chip": "1",
        "to": "2",
        "shift_id": "V1002",
        "params": ["Carla"],
        "force": True,
    }


def test_a_verdict_leaves_out_what_does_not_apply() -> None:
    """attempts_left=None read as "no attempts left" for a contact with no code."""
    no_code = {"valid": False, "reason": "no_code", "attempts_left": None}
    assert human("otp.verify", no_code) == "valid=False  reason=no_code"
    wrong = {"valid": False, "reason": "wrong", "attempts_left": 0}
    assert human("otp.verify", wrong) == "valid=False  reason=wrong  attempts_left=0"


def test_instants_are_local_iso_times_not_epoch_seconds() -> None:
    sent = {"result": "sent", "outbox_id": 7, "wamid": "wamid.1", "reason": "", "expires_at": 1e9}
    line = human("otp.send", sent)
    assert line == f"result=sent  outbox_id=7  wamid=wamid.1  expires_at={local_time(1e9)}"
    assert "T" in local_time(1e9)
    status = {"shift_id": "V1002", "state": "confirmed", "answered_at": 1e9, "error_code": None}
    assert human("shift.status", status) == (
        f"shift_id=V1002  state=confirmed  answered_at={local_time(1e9)}"
    )


def test_a_shift_never_offered_says_so() -> None:
    line = human("shift.status", {"shift_id": "V1002", "state": None})
    assert line == "no offer of shift V1002 to this contact"
