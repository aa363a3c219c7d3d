"""``metad``'s command line: a command's options are taken before or after its action.

Why: ``metad campaign status NAME --json`` and ``metad ctl status -c FILE`` are what
people type (``metad templates list`` and ``metad webhooks stats`` take options there),
while argparse only takes an option where it is defined; the same words in another
order must mean the same thing, and an option given before the action must not be
reset by the action's default.
"""

from __future__ import annotations

import argparse

import pytest

from daemon import cli
from daemon.cli import DEFAULT_CONFIG, build_parser
from daemon.webhook.server import PortInUse


def _parse(line: str) -> argparse.Namespace:
    return build_parser().parse_args(line.split())


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "campaign -c x.toml --socket s.sock --json status demo",
            "campaign status demo --json -c x.toml --socket s.sock",
        ),
        ("campaign --json list", "campaign list --json"),
        ("campaign -c x.toml start demo.toml", "campaign start demo.toml -c x.toml"),
        (
            "ctl -c x.toml --socket s.sock status --json",
            "ctl status --json --socket s.sock -c x.toml",
        ),
        ("ctl --socket s.sock chip pause 1", "ctl chip pause 1 --socket s.sock"),
    ],
)
def test_an_option_after_the_action_means_what_it_means_before(before: str, after: str) -> None:
    assert _parse(after) == _parse(before)


def test_an_option_before_the_action_is_not_reset_by_the_actions_default() -> None:
    args = _parse("campaign -c x.toml --json status demo")
    assert (args.config, args.json, args.socket) == ("x.toml", True, None)
    plain = _parse("campaign status demo")
    assert (plain.config, plain.json, plain.socket) == (DEFAULT_CONFIG, False, None)


def test_an_action_that_has_the_option_keeps_its_own() -> None:
    """``ctl`` defines ``--json`` on each call, not on itself: nothing is copied twice."""
    assert _parse("ctl status --json").json is True
    assert _parse("ctl status").json is False


# Failures of `metad run` are one line each, never a traceback.


@pytest.mark.parametrize(
    "raised",
    [
        PortInUse("127.0.0.1:18295", "webhook endpoint"),
        # As trio hands it on: inside the nurseries' exception groups.
        ExceptionGroup(
            "", [ExceptionGroup("", [PortInUse("127.0.0.1:18295", "webhook endpoint")])]
        ),
    ],
)
def test_a_taken_port_is_one_line_and_exit_1(
    raised: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(args: argparse.Namespace) -> int:
        raise raised

    monkeypatch.setitem(cli._COMMANDS, "run", run)
    assert cli.main(["run"]) == cli.EXIT_RUNTIME
    assert capsys.readouterr().err == (
        "metad: cannot listen on 127.0.0.1:18295 for the webhook endpoint: address already in use\n"
    )
