"""One daemon per state directory.

Why: the embedded PostgreSQL lives in the state directory and is stopped by the daemon
that owns it; a second daemon started by mistake on the same directory would share the
server and stop it under the first one's feet. An exclusive ``flock`` on a file there is
released by the kernel when the process dies, kill -9 included, so it never goes stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["StateDirBusy", "state_dir_lock"]


class StateDirBusy(Exception):
    def __init__(self, state_dir: Path, holder: str) -> None:
        who = f" (pid {holder})" if holder else ""
        super().__init__(f"another metad is running on state directory {state_dir}{who}")


@contextlib.contextmanager
def state_dir_lock(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "metad.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise StateDirBusy(state_dir, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
