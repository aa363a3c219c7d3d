"""``metad ctl otp|shift``: what each command line asks the daemon."""

from __future__ import annotations

import argparse

from daemon.cli import build_parser
from daemon.otp.ctl import _call


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
