"""``metad ctl`` reaches the daemon whatever state the config file is in, and gives up on
a daemon that does not answer.

Why: ``ctl`` is what an operator reaches for when something is wrong. It used to load
and validate the whole config just to find the socket, so an edited file with one bad
value (or a missing file) made every call, ``ctl reload`` included, print the config's
error and exit 2 without reaching the daemon, even with ``--socket``; and a daemon
stopped with SIGSTOP made ``ctl status`` hang for ever. These tests talk to a stand-in
daemon (a thread on a Unix socket) through ``metad``'s own ``main``.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.runtime import DaemonConfig
from daemon import ctl
from daemon.cli import main
from daemon.control import protocol as p

BAD_BUDGET = "metad.toml:105: budget.weekly_usd: must be greater than 0"


class StandIn:
    """A control socket that answers every request with ``answers[method]``, or never
    (``silent``: the connection is accepted and read, as a SIGSTOPped daemon's kernel
    does, but no answer comes)."""

    def __init__(self, path: Path, answers: dict[str, Any], *, silent: bool = False) -> None:
        self.path = path
        self.answers = answers
        self.silent = silent
        self.methods: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        decoder = p.LineDecoder()
        while chunk := conn.recv(65536):
            for line in decoder.feed(chunk):
                msg = p.decode(line)
                assert isinstance(msg, p.Request)
                self.methods.append(msg.method)
                if not self.silent:
                    conn.sendall(p.result_response(msg.id, self.answers[msg.method]))

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """Short: a Unix socket's path must fit in 108 bytes, which pytest's tmp_path may not."""
    path = Path(tempfile.mkdtemp(prefix="ctl-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def stand_ins() -> Iterator[list[StandIn]]:
    made: list[StandIn] = []
    yield made
    for stand_in in made:
        stand_in.close()


def _serve(
    stand_ins: list[StandIn], path: Path, answers: dict[str, Any], *, silent: bool = False
) -> StandIn:
    stand_in = StandIn(path, answers, silent=silent)
    stand_ins.append(stand_in)
    return stand_in


def _invalid_config(directory: Path, run_dir: Path) -> Path:
    """Valid TOML naming the runtime dir, but no valid config: the budget is negative."""
    config = directory / "metad.toml"
    config.write_text(
        f'[daemon]\nruntime_dir = "{run_dir}"\n\n[budget]\nweekly_usd = -1\n', encoding="utf-8"
    )
    return config


SNAPSHOT = {
    "daemon": {"version": "0", "uptime_s": 1.0, "webhook_url": "http://x/webhook"},
    "chips": [],
}


def test_reload_with_an_invalid_config_reaches_the_daemon_which_says_what_is_wrong(
    tmp_path: Path, run_dir: Path, stand_ins: list[StandIn], capsys: pytest.CaptureFixture[str]
) -> None:
    """As the README says: the daemon reads the file, the lines it finds are printed, exit
    2, and the daemon keeps running on the config it has."""
    daemon = _serve(
        stand_ins,
        run_dir / "metad.sock",
        {"config.reload": {"applied": False, "errors": [BAD_BUDGET], "changes": {}}},
    )
    config = _invalid_config(tmp_path, run_dir)
    assert main(["ctl", "-c", str(config), "reload"]) == 2
    assert daemon.methods == ["config.reload"]
    err = capsys.readouterr().err
    assert BAD_BUDGET in err
    assert "metad runs on the previous one" in err


@pytest.mark.parametrize("argv", [["status"], ["chip", "pause", "200000000000001"]])
def test_calls_reach_the_daemon_while_the_config_is_invalid(
    argv: list[str], tmp_path: Path, run_dir: Path, stand_ins: list[StandIn]
) -> None:
    daemon = _serve(
        stand_ins, run_dir / "metad.sock", {"status.snapshot": SNAPSHOT, "chip.pause": {}}
    )
    config = _invalid_config(tmp_path, run_dir)
    assert main(["ctl", "-c", str(config), *argv]) == 0
    assert len(daemon.methods) == 1


def test_socket_skips_the_config_file_entirely(
    tmp_path: Path, run_dir: Path, stand_ins: list[StandIn], capsys: pytest.CaptureFixture[str]
) -> None:
    sock = run_dir / "elsewhere.sock"
    _serve(stand_ins, sock, {"status.snapshot": SNAPSHOT})
    missing = tmp_path / "absent.toml"
    assert main(["ctl", "-c", str(missing), "--socket", str(sock), "status"]) == 0
    assert "cannot read" not in capsys.readouterr().err


def test_a_daemon_that_never_answers_is_given_up_on(
    run_dir: Path, stand_ins: list[StandIn], capsys: pytest.CaptureFixture[str]
) -> None:
    sock = run_dir / "metad.sock"
    daemon = _serve(stand_ins, sock, {}, silent=True)
    assert main(["ctl", "--socket", str(sock), "--timeout", "0.3", "status"]) == 1
    assert daemon.methods == ["status.snapshot"]  # asked, never answered
    err = capsys.readouterr().err
    assert f"metad ctl: no answer from the daemon at {sock} within 0.3 s" in err


def test_a_socket_nobody_accepts_on_is_given_up_on_too(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bound, never accepted: what a SIGSTOPped daemon's socket is; the kernel still
    completes the connection from its backlog."""
    sock = run_dir / "metad.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(sock))
        listener.listen()
        assert main(["ctl", "--socket", str(sock), "--timeout", "0.3", "budget"]) == 1
    assert "no answer from the daemon" in capsys.readouterr().err


def _args(line: str) -> argparse.Namespace:
    from daemon.cli import build_parser

    return build_parser().parse_args(["ctl", *line.split()])


@pytest.mark.parametrize(
    ("line", "seconds"),
    [
        ("status", 10.0),
        ("templates list", 10.0),
        ("events", 10.0),
        ("reload", 70.0),
        ("templates sync", 70.0),
        ("send-test --chip 1 --to 2 --text hi", 70.0),
        ("otp send --to 2", 70.0),
        ("status --timeout 3", 3.0),
        ("--timeout 90 reload", 90.0),
    ],
)
def test_every_call_is_bounded_by_default(line: str, seconds: float) -> None:
    """10 s, or 70 s for calls whose answer waits on Meta or on draining chips (the
    daemon bounds those at 60 s): a working daemon is not cut short."""
    assert ctl.ANSWER_TIMEOUT_S == 10
    assert ctl._timeout(_args(line)) == seconds


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_timeout_must_be_positive_seconds(value: str) -> None:
    with pytest.raises(SystemExit):
        _args(f"status --timeout {value}")


# Finding the socket: only [daemon].runtime_dir is read, tolerantly.


def test_the_runtime_dir_is_relative_to_the_config_file_as_the_loader_makes_it(
    tmp_path: Path,
) -> None:
    from config import load_config

    config = tmp_path / "etc" / "metad.toml"
    config.parent.mkdir()
    config.write_text('[daemon]\nruntime_dir = "run"\n', encoding="utf-8")
    found = ctl.control_socket(str(config), None)
    assert found == ctl.ControlSocket(tmp_path / "etc" / "run" / "metad.sock")
    assert found.path.parent == load_config(config).daemon.runtime_dir


def test_without_runtime_dir_the_default_one_is_used_without_a_word(tmp_path: Path) -> None:
    config = tmp_path / "metad.toml"
    config.write_text("[budget]\nweekly_usd = -1\n", encoding="utf-8")
    assert ctl.control_socket(str(config), None) == ctl.ControlSocket(
        tmp_path / "var" / "run" / "metad.sock"
    )


def test_the_default_runtime_dir_is_the_configs() -> None:
    assert DaemonConfig().runtime_dir == ctl.DEFAULT_RUNTIME_DIR


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (None, "cannot read"),
        ("[daemon\nruntime_dir = 'x'\n", "invalid TOML"),
        ("[daemon]\nruntime_dir = 5\n", "daemon.runtime_dir is not a path"),
        ("daemon = 5\n", "daemon.runtime_dir is not a path"),
    ],
)
def test_an_unusable_file_falls_back_to_the_default_runtime_dir(
    tmp_path: Path, text: str | None, why: str
) -> None:
    config = tmp_path / "metad.toml"
    if text is not None:
        config.write_text(text, encoding="utf-8")
    found = ctl.control_socket(str(config), None)
    assert found.path == tmp_path / "var" / "run" / "metad.sock"
    assert found.guessed is not None
    assert found.guessed.startswith(f"{config}: {why}")
    assert "default runtime dir" in found.guessed


def test_the_fallback_is_mentioned_only_when_no_daemon_is_found(
    run_dir: Path, stand_ins: list[StandIn], capsys: pytest.CaptureFixture[str]
) -> None:
    config = run_dir / "metad.toml"
    config.write_text("[daemon\n", encoding="utf-8")
    assert main(["ctl", "-c", str(config), "status"]) == 1
    err = capsys.readouterr().err
    assert "no metad is listening on" in err
    assert "invalid TOML" in err
    assert "--socket PATH" in err

    (run_dir / "var" / "run").mkdir(parents=True)
    _serve(stand_ins, run_dir / "var" / "run" / "metad.sock", {"status.snapshot": SNAPSHOT})
    assert main(["ctl", "-c", str(config), "status"]) == 0
    assert capsys.readouterr().err == ""


def test_status_names_each_chips_owner_when_nodes_share_the_fleet() -> None:
    """Only ``--json`` had the owner; another node's chip showed zeros for what only its
    own node knows (its open windows, its rate), which read as facts."""
    full = {key: "x" for key, _ in ctl.CHIP_COLUMNS}
    here = {**full, "phone_number_id": "1", "mode": "FULL", "open_windows": 4, "owner": "node-a"}
    there = {**full, "phone_number_id": "2", "mode": "elsewhere", "open_windows": 0}
    there["owner"] = "node-c"
    lines = ctl._status_table([here, there]).splitlines()
    assert lines[0].split()[-1] == "OWNER"
    assert lines[1].split()[-1] == "node-a"
    assert lines[2].split()[-1] == "node-c"
    head = lines[0].split()
    windows = head.index("WINDOWS")
    assert lines[1].split()[windows] == "4"
    assert lines[2].split()[windows] == "-"
    for owner in (None, "node-a"):  # no cluster, or one node running them all
        alone = ctl._status_table([{**here, "owner": owner}, {**here, "owner": owner}])
        assert "OWNER" not in alone.splitlines()[0]


def test_events_takes_json_as_the_usage_says(tmp_path: Path) -> None:
    """``ctl`` shows ``CALL [--json]``; ``events --json`` was a usage error (exit 2)."""
    assert main(["ctl", "--socket", str(tmp_path / "none.sock"), "events", "--json"]) == 1
