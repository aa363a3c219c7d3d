"""Helpers shared by the end-to-end tests and the benchmarks: configs and processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
