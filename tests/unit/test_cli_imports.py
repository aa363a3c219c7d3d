"""``metad``'s parser imports only the chosen command's module.

Why it matters: every ``metad`` command, ``metad campaign start`` and ``metad ctl
status`` included, waits for whatever ``daemon.cli`` imports before it does anything.
When each subcommand's module was imported up front to build the parser, every call
paid ~0.7 s for the simulator (``sim``, quart, hypercorn), the OTP service, the store
(asyncpg) and the Graph client (httpx); a script or cron job calling ``metad`` in a loop
paid it on each call. Now ``daemon.cli`` imports only argparse, and a subcommand's
module is imported when that subcommand is chosen (``daemon.cli._Subcommands``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli import build_parser

REPO = Path(__file__).resolve().parents[2]

# Nothing of these is needed to build the parser or print a command's help.
HEAVY = (
    "sim",
    "quart",
    "quart_trio",
    "hypercorn",
    "asyncpg",
    "httpx",
    "textual",
    "tui",
    "pydantic",
    "config",
    "trio",
    "actors",
    "daemon.store",
    "daemon.graph",
    "daemon.otp",
    "daemon.main",
    "daemon.webhook",
)

_REPORT = """
import sys
loaded = sorted(
    m for m in sys.modules
    if any(m == h or m.startswith(h + ".") for h in {heavy!r})
)
print(loaded)
"""


def _loaded_after(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code + _REPORT.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return out.stdout.strip().splitlines()[-1]


def test_importing_the_cli_and_building_its_parser_loads_nothing_heavy() -> None:
    assert _loaded_after("import daemon.cli; daemon.cli.build_parser()") == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["campaign", "--help"],
        ["campaign", "start", "--help"],
        ["ctl", "--help"],
        ["ctl", "status", "--help"],
        ["templates", "--help"],
        ["catalog", "push", "--help"],
        ["webhooks", "stats", "--help"],
    ],
)
def test_a_commands_help_loads_nothing_heavy(argv: list[str]) -> None:
    code = (
        "import contextlib, io\n"
        "from daemon.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})\n"
    )
    assert _loaded_after(code) == "[]"


def test_sim_help_loads_only_its_own_arguments() -> None:
    """``sim.cli`` declares ``metad sim``'s arguments, so it is loaded; the simulator
    (its engine, quart, hypercorn) and trio are not."""
    code = (
        "import contextlib, io\n"
        "from daemon.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['sim', '--help'])\n"
    )
    assert _loaded_after(code) == "['sim', 'sim.cli']"


def _subcommands(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action


@pytest.mark.parametrize(
    ("argv", "key", "value"),
    [
        (["sim", "--seed", "3", "--knob", "a=1"], "knob", ["a=1"]),
        (["ctl", "otp", "send", "--to", "5511"], "purpose", "login"),
        (["ctl", "shift", "status", "--to", "5511", "--shift", "s1"], "shift_id", "s1"),
        (["campaign", "--json", "start", "c.toml"], "campaign", "c.toml"),
        (["templates", "lint", "t.json"], "templates_command", "lint"),
        (["catalog", "push", "l.csv", "--catalog", "9"], "catalog", "9"),
        (["flows", "validate", "f.json"], "flows_command", "validate"),
    ],
)
def test_a_deferred_command_still_parses_its_arguments(
    argv: list[str], key: str, value: object
) -> None:
    args = build_parser().parse_args(argv)
    assert args.command == argv[0]
    assert getattr(args, key) == value


def test_ctl_declares_the_calls_daemon_otp_ctl_runs() -> None:
    """``daemon.ctl`` declares the OTP calls' arguments (importing ``daemon.otp`` loads the
    OTP service); it must declare exactly the calls ``daemon.otp.ctl`` runs."""
    from daemon.otp.ctl import COMMANDS

    parser = build_parser()
    parser.parse_args(["ctl", "status"])  # completes the ctl parser
    ctl = _subcommands(parser).choices["ctl"]
    calls = set(_subcommands(ctl).choices)
    assert set(COMMANDS) <= calls
    assert calls - set(COMMANDS) == {
        "status",
        "chip",
        "send-test",
        "webhooks",
        "budget",
        "templates",
        "events",
        "reload",
    }
