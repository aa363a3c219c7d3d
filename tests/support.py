"""Helpers shared by the end-to-end tests and the benchmarks: configs and processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from daemon.store.embedded import postmaster_alive

REPO = Path(__file__).resolve().parents[1]


_ISSUED: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, and never one this process was handed before:
    once the probe's socket is closed the kernel may hand the same port to the next
    probe, and a daemon test got one port for its webhook and its simulator both."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _ISSUED:
            _ISSUED.add(port)
            return port


def write_demo_config(directory: Path, *, dsn: str = "", extra: str = "") -> Path:
    """A config like the default one, with its own state, ports and (optional) DSN."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "metad.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "state"
runtime_dir = "run"
shutdown_timeout_s = 8.0

[storage]
dsn = "{dsn}"

[webhook]
listen = "127.0.0.1:{free_port()}"

[sandbox]
enabled = true
listen = "127.0.0.1:{free_port()}"

[graph]
base_url = "http://127.0.0.1:1"

[[wabas]]
id = "100000000000001"
name = "Plantões SP"

[[chips]]
phone_number_id = "200000000000001"
display_number = "+55 11 94000-0001"
waba = "100000000000001"

[[chips]]
phone_number_id = "200000000000002"
display_number = "+55 11 94000-0002"
waba = "100000000000001"
{extra}
""",
        encoding="utf-8",
    )
    return path


class NotReady(RuntimeError):
    """``metad run`` exited, or printed no READY line in time; the message names its log."""


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> int | None:
    """SIGTERM, then SIGKILL after ``timeout``; the exit code (None: never started)."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def start_until_ready(config: Path, log: Path, *, timeout: float) -> subprocess.Popen[bytes]:
    """``metad run -c config`` with its stderr appended to ``log``; returns once the
    READY line of this start (not an earlier one in the same log) is there."""
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "-c", str(config)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with log.open("rb") as f:
            f.seek(offset)
            if b"READY" in f.read():
                return proc
        if proc.poll() is not None:
            raise NotReady(f"metad exited {proc.returncode}; see {log}")
        time.sleep(0.05)
    stop_process(proc)
    raise NotReady(f"metad not READY within {timeout}s; see {log}")


def metad_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "daemon", *args]


class Daemon:
    """``metad run`` as a child process whose stderr is read line by line."""

    def __init__(self, config: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            metad_command("run", "-c", str(config), *args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        self.lines: list[str] = []

    def wait_for(self, marker: str, timeout: float = 30.0) -> str:
        """Read stderr until a line containing ``marker``; fail with what was seen."""
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if marker in line:
                return line
        raise AssertionError(f"no {marker!r} line; daemon said:\n" + "\n".join(self.lines))

    def rest(self, timeout: float = 15.0) -> tuple[int, str]:
        """Wait for exit; the exit code and the remaining stderr."""
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err

    def kill(self) -> None:
        """SIGKILL if still running; always release the pipe."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@contextmanager
def embedded_state_dir() -> Iterator[Path]:
    """A temp dir for an embedded server, outside pytest's ``tmp_path`` tree.

    Why: as root, pgserver runs PostgreSQL as the ``pgserver`` user and opens up the
    parent directories for it, but every pytest start resets ``/tmp/pytest-of-<user>``
    to 0700, which would lock a concurrently running test session's server out of its
    own data directory.
    """
    path = Path(tempfile.mkdtemp(prefix="metad-test-pg-"))
    try:
        yield path
    finally:
        _stop_leftover_servers(path)
        shutil.rmtree(path, ignore_errors=True)


def _stop_leftover_servers(path: Path) -> None:
    """A failed test may leave a postmaster behind: fast-shutdown it before deleting."""
    for pidfile in path.rglob("postmaster.pid"):
        try:
            proc = psutil.Process(int(pidfile.read_text().splitlines()[0]))
            if postmaster_alive(proc):
                proc.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
                proc.wait(timeout=10)
        except (OSError, ValueError, IndexError, psutil.Error):
            continue


def server_processes(pgdata: Path) -> list[psutil.Process]:
    """A running PostgreSQL's postmaster (from ``pgdata``'s pid file) and its children."""
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
    return [postmaster, *postmaster.children(recursive=True)]


def signal_all(processes: list[psutil.Process], signum: int) -> None:
    """``signum`` to each process still there (SIGSTOP and SIGCONT: a frozen server)."""
    for proc in processes:
        try:
            proc.send_signal(signum)
        except psutil.NoSuchProcess:
            continue
