"""The default storage path: a private PostgreSQL in ``<state_dir>/pg``.

Runs even when METAD_TEST_DSN is set: it is what ``metad`` does out of the box.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest
import trio

from config.model import StorageConfig
from daemon.store import StoreError, embedded, open_store, pglock
from daemon.store.embedded import postmaster_alive
from tests.support import write_demo_config

pytestmark = [pytest.mark.postgres, pytest.mark.trio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


def _alive(pid: int) -> bool:
    try:
        return postmaster_alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


def _postmaster_pid(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    return int(pidfile.read_text().splitlines()[0])


async def test_rows_persist_across_restarts_and_server_stops(pg_state_dir: Path) -> None:
    state = pg_state_dir / "state"
    async with open_store(StorageConfig(), state_dir=state) as store:
        assert store.embedded is not None
        assert not store.embedded.reused
        assert store.embedded.pgdata == state.resolve() / "pg"
        cold = store.embedded.startup_s
        await store.execute("INSERT INTO events (kind) VALUES ('kept')")
        pid = _postmaster_pid(store.embedded.pgdata)
        assert pid is not None
        assert _alive(pid)
    assert not _alive(pid)  # stopped on exit: the daemon owns it

    async with open_store(StorageConfig(), state_dir=state) as store:
        assert store.embedded is not None
        warm = store.embedded.startup_s
        assert await store.fetchval("SELECT count(*) FROM events WHERE kind = 'kept'") == 1
    print(f"embedded PostgreSQL: cold start {cold:.2f} s, warm start {warm:.2f} s")


async def test_server_left_by_a_killed_daemon_is_adopted(pg_state_dir: Path) -> None:
    state = pg_state_dir / "state"
    script = textwrap.dedent(
        f"""
        import os, signal, trio
        from pathlib import Path
        from config.model import StorageConfig
        from daemon.store import open_store

        async def main():
            async with open_store(StorageConfig(), state_dir=Path({str(state)!r})) as store:
                await store.execute("INSERT INTO events (kind) VALUES ('before kill')")
                os.kill(os.getpid(), signal.SIGKILL)

        trio.run(main)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = await trio.run_process([sys.executable, "-c", script], env=env, check=False)
    assert result.returncode == -signal.SIGKILL
    orphan = _postmaster_pid(state / "pg")
    assert orphan is not None
    assert _alive(orphan)

    async with open_store(StorageConfig(), state_dir=state) as store:
        assert store.embedded is not None
        assert store.embedded.reused
        assert _postmaster_pid(store.embedded.pgdata) == orphan
        assert await store.fetchval("SELECT count(*) FROM events") == 1
    assert not _alive(orphan)


async def test_unusable_state_dir_is_a_store_error(pg_state_dir: Path) -> None:
    blocker = pg_state_dir / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(
        StoreError, match=r"^embedded PostgreSQL failed to start: .*; log: .*pg/log$"
    ):
        async with open_store(StorageConfig(), state_dir=blocker / "state"):
            pass


async def test_foreign_data_directory_is_a_store_error(pg_state_dir: Path) -> None:
    pgdata = pg_state_dir / "state" / "pg"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("9\n")
    with pytest.raises(StoreError, match=r"embedded PostgreSQL failed to start: .*version"):
        async with open_store(StorageConfig(), state_dir=pg_state_dir / "state"):
            pass


# --- several processes on one state directory ----------------------------------------

_USER = textwrap.dedent(
    """
    # One process using the embedded store: a daemon ("own": stops a server it finds
    # running) or a command-line tool ("keep"). Files in SIG pace it: it says ready-NAME
    # once imported, opens the store at go, and with --hold queries again only at
    # release-NAME (after the test has seen the other process exit).
    import sys, trio
    from pathlib import Path
    from config.model import StorageConfig
    from daemon.store import open_store

    state, mode, sig, name = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]

    async def until(path):
        while not path.exists():
            await trio.sleep(0.005)

    async def main():
        (sig / f"ready-{name}").touch()
        await until(sig / "go")
        async with open_store(
            StorageConfig(), state_dir=state, keep_adopted_server=mode == "keep"
        ) as store:
            print("reused" if store.embedded.reused else "started", flush=True)
            assert await store.fetchval("SELECT 1") == 1
            (sig / f"open-{name}").touch()
            if "--hold" in sys.argv:
                await until(sig / f"release-{name}")
                print("after", await store.fetchval("SELECT count(*) FROM events"), flush=True)

    trio.run(main)
    """
)


def _user(state: Path, mode: str, sig: Path, name: str, *more: str) -> list[str]:
    return [sys.executable, "-c", _USER, str(state), mode, str(sig), name, *more]


async def _until(path: Path) -> None:
    while not path.exists():
        await trio.sleep(0.005)


_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _ctrl_c_heard() -> None:
    """In the child, before Python starts: Ctrl-C as a terminal delivers it. A shell
    running a command in the background (CI under ``nohup sh -c … &``) starts it with
    SIGINT ignored, which a child inherits and Python then respects (no
    KeyboardInterrupt): the Ctrl-C cases would test nothing but that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def test_two_processes_starting_on_a_fresh_state_dir_share_one_server(
    pg_state_dir: Path,
) -> None:
    """The operator's report: ``metad run`` and ``metad campaign plan`` at once on a fresh
    clone. Both ran initdb/pg_ctl on the same data directory (one read initdb's negative
    pid: "pid must be a positive integer"), and the tool stopped the daemon's server when
    it exited ("the database system is shutting down")."""
    state, sig = pg_state_dir / "state", pg_state_dir / "sig"
    sig.mkdir()
    done: dict[str, subprocess.CompletedProcess[bytes]] = {}

    async def run(name: str, cmd: list[str]) -> None:
        done[name] = await trio.run_process(
            cmd, capture_stdout=True, capture_stderr=True, check=False, env=_ENV
        )

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, "daemon", _user(state, "own", sig, "daemon", "--hold"))
            nursery.start_soon(run, "tool", _user(state, "keep", sig, "tool"))
            await _until(sig / "ready-daemon")
            await _until(sig / "ready-tool")
            (sig / "go").touch()  # both open the store at the same moment
            while "tool" not in done:
                await trio.sleep(0.01)
            (sig / "release-daemon").touch()  # the tool has exited: query again

    daemon, tool = done["daemon"], done["tool"]
    assert tool.returncode == 0, tool.stderr.decode()
    assert daemon.returncode == 0, daemon.stderr.decode()
    said = sorted([daemon.stdout.split()[0], tool.stdout.split()[0]])
    assert said == [b"reused", b"started"]  # exactly one of them started it
    assert b"after 0" in daemon.stdout
    # The daemon was the last user: it stopped the server.
    assert _postmaster_pid(state / "pg") is None


@pytest.mark.parametrize("mode", ["own", "keep"])
async def test_a_process_that_attached_never_stops_the_server_of_another(
    pg_state_dir: Path, mode: str
) -> None:
    """Whether it would stop a server it found running (a daemon adopting one a crash
    left) or not (a command-line tool), a process that exits while the process that
    started the server still uses it leaves the server alone."""
    state, sig = pg_state_dir / "state", pg_state_dir / "sig"
    sig.mkdir()
    (sig / "go").touch()
    async with open_store(StorageConfig(), state_dir=state) as store:
        assert store.embedded is not None
        assert not store.embedded.reused
        pid = _postmaster_pid(store.embedded.pgdata)
        assert pid is not None
        other = await trio.run_process(
            _user(state, mode, sig, "other"),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=_ENV,
        )
        assert other.returncode == 0, other.stderr.decode()
        assert other.stdout.split()[0] == b"reused"
        assert _alive(pid)
        assert await store.fetchval("SELECT count(*) FROM events") == 0
    assert not _alive(pid)  # the starter, now the last user, stopped it


async def test_a_command_waits_while_another_process_starts_the_server(
    pg_state_dir: Path,
) -> None:
    """``metad webhooks stats`` (any command reading the store) started while another
    process holds the start lock says so on stderr and waits for it, then runs."""
    root = pg_state_dir / "root"
    config = write_demo_config(root)
    state = root / "state"
    state.mkdir(parents=True)
    out, err = pg_state_dir / "stdout", pg_state_dir / "stderr"
    fd = os.open(state / embedded.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    proc = None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b"4242 starting\n", 0)
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = await trio.lowlevel.open_process(
                [sys.executable, "-m", "daemon", "webhooks", "stats", "--json", "-c", str(config)],
                stdout=stdout,
                stderr=stderr,
                cwd=ROOT,
                env=_ENV,
            )
        with trio.fail_after(30):
            while b"waiting for the embedded PostgreSQL" not in err.read_bytes():
                assert proc.poll() is None, err.read_text()
                await trio.sleep(0.02)
        assert "another metad process is starting (pid 4242, " in err.read_text()
        await trio.sleep(0.3)
        assert proc.poll() is None  # still waiting, not racing
        os.close(fd)  # the other process is done
        fd = -1
        with trio.fail_after(30):
            await proc.wait()
    finally:
        if fd >= 0:
            os.close(fd)
        if proc is not None and proc.poll() is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.read_text()
    assert json.loads(out.read_text())["received"] == 0
    assert _postmaster_pid(state / "pg") is None  # it started the server: it stopped it


async def test_a_start_stop_lock_held_too_long(
    pg_state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder stuck beyond ``LOCK_WAIT_S``: starting fails with a ``StoreError`` naming
    it; exiting leaves the server running (to the holder, or to the next daemon) instead
    of failing."""
    state = pg_state_dir / "state"
    state.mkdir()
    monkeypatch.setattr(pglock, "LOCK_WAIT_S", 0.2)
    fd = os.open(state / embedded.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b"4242 stopping\n", 0)
        with pytest.raises(
            StoreError, match=r"another metad process \(pid 4242\) has been stopping"
        ):
            async with open_store(StorageConfig(), state_dir=state):
                pass
        assert not (state / "pg").exists()  # nothing was started meanwhile
        fcntl.flock(fd, fcntl.LOCK_UN)

        async with open_store(StorageConfig(), state_dir=state) as store:
            fcntl.flock(fd, fcntl.LOCK_EX)
        pid = _postmaster_pid(state / "pg")
        assert pid is not None
        assert _alive(pid)
    finally:
        os.close(fd)
    async with open_store(StorageConfig(), state_dir=state) as store:
        assert store.embedded is not None
        assert store.embedded.reused
    assert not _alive(pid)


async def _waiting_for_the_lock(root: Path, *argv: str) -> tuple[trio.Process, Path, int]:
    """``metad <argv> -c <config>`` started while this process holds ``pg.lock`` (as
    pid 4242 starting the server), once it says it waits. Returns it, its stderr file and
    the lock's descriptor (close it to let go)."""
    config = write_demo_config(root)
    state = root / "state"
    state.mkdir(parents=True)
    err = root / "stderr"
    fd = os.open(state / embedded.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.pwrite(fd, b"4242 starting\n", 0)
    with err.open("wb") as stderr:
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "daemon", *argv, "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=ROOT,
            env=_ENV,
            preexec_fn=_ctrl_c_heard,
        )
    try:
        with trio.fail_after(30):
            while b"waiting for the embedded PostgreSQL" not in err.read_bytes():
                assert proc.poll() is None, err.read_text()
                await trio.sleep(0.02)
    except BaseException:
        proc.kill()
        os.close(fd)
        raise
    return proc, err, fd


async def _stopped_by(proc: trio.Process, signum: int) -> float:
    """Send ``signum``; how long the process took to exit (killed after 10 s)."""
    started = trio.current_time()
    proc.send_signal(signum)
    with trio.move_on_after(10):
        await proc.wait()
    if proc.poll() is None:
        proc.kill()
        await proc.wait()
    return trio.current_time() - started


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_command_waiting_for_the_lock_stops_at_once_when_asked(
    pg_state_dir: Path, signum: signal.Signals
) -> None:
    """A Ctrl-C (or a SIGTERM) to a command waiting for another process's start: it
    waited out the minute (SIGINT, then exited 0 without a word) or died without one
    (SIGTERM). It exits at once, non-zero, with one line saying why, and touches
    nothing it does not hold."""
    root = pg_state_dir / "root"
    proc, err, fd = await _waiting_for_the_lock(root, "webhooks", "stats", "--json")
    try:
        took = await _stopped_by(proc, signum)
        assert os.pread(fd, 64, 0) == b"4242 starting\n"  # the holder's, untouched
    finally:
        os.close(fd)
    said = err.read_text().splitlines()
    assert took < 2.0, said
    assert proc.returncode == 1, said
    assert said[-1] == (
        f"metad: interrupted by {signum.name} while waiting for the embedded PostgreSQL"
        f" another metad process (pid 4242) is starting; lock: {root.resolve()}/state/pg.lock"
    )
    assert not (root / "state" / "pg").exists()  # nothing was started


async def test_the_daemon_waiting_for_the_lock_stops_at_once_on_sigterm(
    pg_state_dir: Path,
) -> None:
    """``systemctl stop`` while ``metad run`` waits for another process's start: it
    waited out the minute, then failed. The signal cancels the start at once; the
    daemon says so and that it stopped, and exits 0 as on any stop (daemon.signals)."""
    root = pg_state_dir / "root"
    proc, err, fd = await _waiting_for_the_lock(root, "run")
    try:
        took = await _stopped_by(proc, signal.SIGTERM)
        assert os.pread(fd, 64, 0) == b"4242 starting\n"
    finally:
        os.close(fd)
    said = err.read_text()
    assert took < 2.0, said
    assert proc.returncode == 0, said
    assert "received SIGTERM during start-up, cancelling the start" in said
    assert "stopped waiting for the embedded PostgreSQL" in said
    assert said.rstrip().endswith("stopped"), said
    assert not (root / "state" / "pg").exists()


async def test_a_ctrl_c_while_waiting_to_stop_the_server_leaves_it_running(
    pg_state_dir: Path,
) -> None:
    """At exit, a process whose server another process is busy with (``pg.lock`` held)
    waits for it; a Ctrl-C then waited out the minute. It now gives up at once and
    leaves the server running, as it does when the wait times out."""
    state, sig = pg_state_dir / "state", pg_state_dir / "sig"
    sig.mkdir()
    (sig / "go").touch()
    err = pg_state_dir / "stderr"
    with err.open("wb") as stderr:
        proc = await trio.lowlevel.open_process(
            _user(state, "own", sig, "d", "--hold"),
            stderr=stderr,
            env=_ENV,
            preexec_fn=_ctrl_c_heard,
        )
    fd = -1
    try:
        with trio.fail_after(30):
            await _until(sig / "open-d")
        pid = _postmaster_pid(state / "pg")
        assert pid is not None
        fd = os.open(state / embedded.LOCK_FILE, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b"4242 starting\n", 0)
        (sig / "release-d").touch()  # it leaves its store: it must wait to stop the server
        with trio.fail_after(30):
            while b"waiting for the embedded PostgreSQL" not in err.read_bytes():
                assert proc.poll() is None, err.read_text()
                await trio.sleep(0.02)
        took = await _stopped_by(proc, signal.SIGINT)
        assert os.pread(fd, 64, 0) == b"4242 starting\n"
    finally:
        if fd >= 0:
            os.close(fd)
        if proc.poll() is None:
            proc.kill()
            await proc.wait()
    said = err.read_text()
    assert took < 2.0, said
    assert "embedded PostgreSQL left running: interrupted by SIGINT while waiting" in said
    assert _alive(pid)
    async with open_store(StorageConfig(), state_dir=state) as store:  # the next adopts it
        assert store.embedded is not None
        assert store.embedded.reused
    assert not _alive(pid)


async def test_a_single_user_backends_pid_file_left_behind_is_dropped(
    pg_state_dir: Path,
) -> None:
    """initdb's bootstrap backend writes its pid negated into ``postmaster.pid``; read
    while initdb ran (or left by a killed one) it failed every start: psutil refuses a
    negative pid ("pid must be a positive integer")."""
    pgdata = pg_state_dir / "pg"
    pgdata.mkdir()
    pidfile = pgdata / "postmaster.pid"
    finished = await trio.lowlevel.open_process(["true"])
    await finished.wait()
    for pid in (finished.pid, os.getpid()):  # gone; alive but not PostgreSQL
        pidfile.write_text(f"-{pid}\n{pgdata}\n")
        assert not embedded._live_postmaster(pgdata)
        assert not pidfile.exists()
