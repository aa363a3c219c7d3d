"""Webhook ingest under load: signed POSTs at a running metad, against a FastAPI peer.

Why: every Meta event of the fleet enters through ``POST /webhook``, and each 200 must
mean "committed to PostgreSQL" (Meta forgets what it was answered 200). Goals (issue M4):
>= 5,000 events/s stored, and at least the throughput of a minimal FastAPI/uvicorn
handler that only checks the signature (``ratio`` = metad / peer >= 1.0).

What it does:
1. starts ``python -m daemon run -c <tmp config>`` as its own process (sandbox with
   ``serve = false``, 4 numbers, ``[webhook] ingest_workers = --ingest-workers``, default
   2), on an embedded PostgreSQL in a temp state dir, or on ``--dsn`` /
   ``METAD_TEST_DSN`` when given, and waits for its READY line. The Graph
   API is ``python -m sim --webhook-url none``, apart: it answers the daemon's template
   sync and quality polls and sends no webhook, so every webhook is the load's;
2. pre-signs bodies the way Meta batches them (``--per-body`` statuses in one
   ``messages`` change, default 20) and single-status bodies, every one distinct (unique
   wamids per run), so the daemon's processor does real work, not duplicate skipping;
3. drives them from a separate process over loopback keep-alive connections: ``wrk``
   with a Lua script (``apt-get install wrk``) or else worker processes running httpx
   (which cost more CPU on the same cores: a floor, not a ceiling). A warm-up, then the
   timed run for batched bodies, then for single-event bodies;
4. checks durability: the rows ``metad webhooks stats`` counts before and after the
   timed run must equal the 200s the load generator received (wrk may stop with up to
   ``--connections`` requests in flight, which the daemon stores but wrk never counts:
   those are shown as ``stored_unacknowledged``), then waits for the processor to drain;
5. runs the same load against ``bench/webhook_peer.py`` (FastAPI + uvicorn, installed
   for the benchmark only: ``pip install fastapi uvicorn``; without them, or with
   ``--no-peer``, metad's lines are printed alone with ``peer_skipped=<why>`` in place
   of the peer's, and the exit status is still 0: metad's figures stand by themselves),
   with as many processes as metad has ingest workers
   (``--peer-processes`` to change it), so process counts compare like for like;
6. reads from /proc the CPU each side used during the timed runs and prints it per
   answered POST by role (``*_cpu_us_per_post_ingest`` the workers,
   ``_daemon`` the daemon with its inbox processing, ``_postgres`` the embedded server;
   ``peer_cpu_us_per_post`` the peer): the ratio says how fast, these say where the
   time of one webhook goes.

Events are counted, not requests: events/s = 200 answers x events per body / seconds.
Usage: ``python bench/webhook_ingest.py [--seconds 10] [--warmup 2] [--connections 32]
[--per-body 20] [--load wrk|httpx] [--dsn DSN] [--no-peer] [--ingest-workers 2]
[--peer-processes N]``. Output lines are
``name=value``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.procstat import Roles, cpu_seconds, daemon_roles, descendants
from bench.webhook_load import Load, httpx_load, write_bodies, wrk_load
from config.secrets import SANDBOX_APP_SECRET
from tests.support import REPO, Daemon, embedded_state_dir, free_port, metad_command

WABA = "100000000000001"
CHIPS = [f"2000000000000{i:02d}" for i in range(1, 5)]
SECRET = SANDBOX_APP_SECRET
PATH = "/webhook"


# --- the two servers --------------------------------------------------------------------------


def write_config(
    directory: Path, state_dir: Path, dsn: str, port: int, sim_port: int, ingest_workers: int
) -> Path:
    chips = "\n".join(
        f"""
[[chips]]
phone_number_id = "{pnid}"
display_number = "+55 11 94000-00{i:02d}"
waba = "{WABA}"
"""
        for i, pnid in enumerate(CHIPS, start=1)
    )
    path = directory / "metad.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "{state_dir}"
runtime_dir = "{directory}/run"

[storage]
dsn = "{dsn}"

[graph]
base_url = "http://127.0.0.1:{sim_port}"

[webhook]
listen = "127.0.0.1:{port}"
ingest_workers = {ingest_workers}

[sandbox]
enabled = true
serve = false
listen = "127.0.0.1:{sim_port}"

[[wabas]]
id = "{WABA}"
name = "bench"
{chips}
""",
        encoding="utf-8",
    )
    return path


@contextmanager
def graph_sim(config: Path) -> Iterator[str]:
    """The simulator as the daemon's Graph API, sending no webhooks."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "-c", str(config), "--webhook-url", "none"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("SIM READY url="):
            raise SystemExit(f"simulator did not start: {line!r}")
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield line.removeprefix("SIM READY url=")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def metad(config: Path) -> Iterator[Daemon]:
    daemon = Daemon(config)
    try:
        daemon.wait_for("READY", timeout=180)
        # Keep reading its stderr so a chatty daemon never blocks on a full pipe.
        threading.Thread(target=_drain, args=(daemon,), daemon=True).start()
        yield daemon
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.proc.wait(timeout=30)
    finally:
        daemon.kill()


def _drain(daemon: Daemon) -> None:
    stream = daemon.proc.stderr
    if stream is None:
        return
    try:
        for line in stream:
            daemon.lines.append(line.rstrip("\n"))
    except (OSError, ValueError):
        return


@contextmanager
def peer(port: int, processes: int) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "bench" / "webhook_peer.py"),
            "--port",
            str(port),
            "--secret",
            SECRET,
            "--processes",
            str(processes),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("PEER READY"):
            _, err = proc.communicate(timeout=10)
            raise SystemExit(f"peer did not start: {line!r} {err}")
        yield line.removeprefix("PEER READY "), proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def inbox_stats(config: Path) -> dict[str, int]:
    """What ``metad webhooks stats`` counts: the operator's view of the store."""
    out = subprocess.run(
        [*metad_command("webhooks", "stats", "-c", str(config), "--json")],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=60,
    ).stdout
    counts: dict[str, int] = json.loads(out)
    return counts


# --- one measurement --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measured:
    load: Load
    events_per_body: int

    @property
    def events_per_s(self) -> float:
        return self.load.ok * self.events_per_body / self.load.seconds

    @property
    def requests_per_s(self) -> float:
        return self.load.ok / self.load.seconds


def measure(
    run: Callable[[Path, int, float], Load],
    bodies: Path,
    events_per_body: int,
    warmup: float,
    seconds: float,
    connections: int,
    roles: Roles,
) -> tuple[Measured, int, dict[str, float]]:
    """Warm-up then the timed run: the timed run, the 200s of both together, and the CPU
    seconds each role used during the timed run."""
    offset = 0
    acked = 0
    if warmup > 0:
        w = run(bodies, 0, warmup)
        offset = w.ok + w.other + connections  # fresh bodies for the timed run
        acked = w.ok
    before = cpu_seconds(roles)
    load = run(bodies, offset, seconds)
    after = cpu_seconds(roles)
    used = {role: after[role] - before.get(role, 0.0) for role in after}
    return Measured(load, events_per_body), acked + load.ok, used


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--per-body", type=int, default=20, help="statuses per batched POST")
    parser.add_argument("--bodies", type=int, default=0, help="distinct bodies (0: enough)")
    parser.add_argument(
        "--load", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx"
    )
    parser.add_argument("--dsn", default=os.environ.get("METAD_TEST_DSN", ""))
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument(
        "--ingest-workers",
        type=int,
        default=2,
        help="[webhook] ingest_workers for the daemon (0: it takes the POSTs itself)",
    )
    parser.add_argument(
        "--peer-processes",
        type=int,
        default=0,
        help="uvicorn processes for the peer (0: as many as --ingest-workers, at least 1)",
    )
    args = parser.parse_args()

    from bench.webhook_peer import available

    peer_problem = None if not args.no_peer else "--no-peer was given"
    if peer_problem is None:
        peer_problem = available()
        if peer_problem is not None:
            print(f"bench: {peer_problem}\nbench: measuring metad alone", file=sys.stderr)

    tag = secrets.token_hex(3).upper()  # wamids never seen by an earlier run
    results: dict[str, str] = {}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="metad-bench-")))
        # Distinct bodies for ~1,500 batched and ~4,000 single requests/s (3-4x what
        # metad does on 2 cores); past that they repeat, and the repeats are counted as
        # duplicates below. The peer does not care.
        span = args.warmup + args.seconds + 2
        n_batch = args.bodies or int(1_500 * span)
        n_single = args.bodies or int(4_000 * span)
        batch_bodies, single_bodies = workdir / "batch.ndjson", workdir / "single.ndjson"
        # The bodies name the config's WABA and numbers, so the daemon processes them.
        batch_size = write_bodies(
            batch_bodies, n_batch, args.per_body, tag + "B", waba=WABA, chips=CHIPS, secret=SECRET
        )
        single_size = write_bodies(
            single_bodies, n_single, 1, tag + "S", waba=WABA, chips=CHIPS, secret=SECRET
        )
        results["events_per_post"] = str(args.per_body)
        results["batch_body_bytes"] = str(batch_size)
        results["single_body_bytes"] = str(single_size)

        def runner(url: str) -> Callable[[Path, int, float], Load]:
            if args.load == "wrk":
                return lambda b, off, s: wrk_load(url, b, off, s, args.connections, workdir)
            return lambda b, off, s: httpx_load(url, b, off, s, args.connections)

        def timed(
            run: Callable[[Path, int, float], Load],
            name: str,
            bodies: Path,
            per: int,
            roles: Roles,
        ) -> int:
            """One warm-up and timed run, its figures reported as ``name``; the 200s."""
            measured, acked, cpu = measure(
                run, bodies, per, args.warmup, args.seconds, args.connections, roles
            )
            _report(results, name, measured)
            _report_cpu(results, name, cpu, measured.load.ok)
            return acked

        # --- metad ---------------------------------------------------------------------
        state_dir = workdir / "state" if args.dsn else stack.enter_context(embedded_state_dir())
        port = free_port()
        config = write_config(workdir, state_dir, args.dsn, port, free_port(), args.ingest_workers)
        stack.enter_context(graph_sim(config))
        started = time.monotonic()
        with metad(config) as daemon:
            results["metad_start_s"] = f"{time.monotonic() - started:.1f}"
            run = runner(f"http://127.0.0.1:{port}{PATH}")
            for name, bodies, per in (
                ("metad", batch_bodies, args.per_body),
                ("metad_single", single_bodies, 1),
            ):
                before = inbox_stats(config)
                acked = timed(
                    run,
                    name,
                    bodies,
                    per,
                    daemon_roles(daemon.proc.pid, None if args.dsn else state_dir),
                )
                time.sleep(0.5)  # let what was in flight when the load stopped commit
                after = inbox_stats(config)
                # Durable: every 200 (warm-up and timed run) is a row. wrk may stop with
                # requests in flight that the daemon stored but wrk never counted.
                stored = after["received"] - before["received"]
                slack = 2 * args.connections if args.load == "wrk" else 0
                results[f"{name}_acknowledged_200"] = str(acked)
                results[f"{name}_stored_rows"] = str(stored)
                results[f"{name}_stored_unacknowledged"] = str(stored - acked)
                results[f"{name}_durable"] = "yes" if 0 <= stored - acked <= slack else "NO"
                results[f"{name}_pending_when_load_stopped"] = str(after["pending"])
                drain_start = time.monotonic()
                while after["pending"] > 0 and time.monotonic() - drain_start < 300:
                    time.sleep(0.25)
                    after = inbox_stats(config)
                results[f"{name}_processing_caught_up_s"] = f"{time.monotonic() - drain_start:.1f}"
                results[f"{name}_duplicates"] = str(after["duplicates"] - before["duplicates"])
                results[f"{name}_unparsed"] = str(after["unparsed"] - before["unparsed"])
            results["metad_log_lines"] = str(len(daemon.lines))

        # --- the peer -----------------------------------------------------------------
        if peer_problem is None:
            port = free_port()
            processes = args.peer_processes or max(1, args.ingest_workers)
            with peer(port, processes) as (description, peer_pid):
                results["peer"] = "fastapi+uvicorn " + description.split(" ", 1)[1]
                run = runner(f"http://127.0.0.1:{port}{PATH}")
                for name, bodies, per in (
                    ("peer", batch_bodies, args.per_body),
                    ("peer_single", single_bodies, 1),
                ):
                    timed(
                        run,
                        name,
                        bodies,
                        per,
                        lambda table: {"peer": descendants(peer_pid, table)},
                    )

    _print(results, args, peer_problem)
    return 0


def _report_cpu(results: dict[str, str], name: str, cpu: dict[str, float], posts: int) -> None:
    """CPU-µs per answered POST by role: where the time of one webhook goes."""
    for role, seconds in cpu.items():
        results[name + _CPU_KEYS[role]] = f"{seconds / max(1, posts) * 1e6:.0f}"


_CPU_KEYS = {
    "ingest": "_cpu_us_per_post_ingest",
    "daemon": "_cpu_us_per_post_daemon",
    "postgres": "_cpu_us_per_post_postgres",
    "peer": "_cpu_us_per_post",
}


def _report(results: dict[str, str], name: str, m: Measured) -> None:
    results[f"{name}_events_per_s"] = f"{m.events_per_s:.0f}"
    results[f"{name}_requests_per_s"] = f"{m.requests_per_s:.0f}"
    results[f"{name}_p50_ms"] = f"{m.load.p50_ms:.2f}" if m.load.p50_ms is not None else "n/a"
    results[f"{name}_p99_ms"] = f"{m.load.p99_ms:.2f}" if m.load.p99_ms is not None else "n/a"
    results[f"{name}_non_200"] = str(m.load.other)


def _print(results: dict[str, str], args: argparse.Namespace, peer_problem: str | None) -> None:
    """The figures as ``name=value`` lines; the comparison's only when the peer ran, else
    ``peer_skipped`` says why (one line), so a reader such as run_all can tell a skipped
    peer from a run that failed to print its ratio."""
    aliased = {"metad_p99_ms", "metad_single_p99_ms"}
    lines = {
        "metad_events_per_s": results["metad_events_per_s"],
        "p99_ms": results["metad_p99_ms"],
        "metad_single_events_per_s": results["metad_single_events_per_s"],
        "single_p99_ms": results["metad_single_p99_ms"],
    }
    if peer_problem is not None:
        lines["peer_skipped"] = " ".join(peer_problem.split())
    else:
        metad_rate = float(results["metad_events_per_s"])
        peer_rate = float(results["peer_events_per_s"])
        single = float(results["metad_single_events_per_s"])
        peer_single = float(results["peer_single_events_per_s"])
        lines |= {
            "peer_events_per_s": results["peer_events_per_s"],
            "peer_p99_ms": results["peer_p99_ms"],
            "peer_single_events_per_s": results["peer_single_events_per_s"],
            "peer_single_p99_ms": results["peer_single_p99_ms"],
            "ratio": f"{metad_rate / peer_rate:.2f}" if peer_rate else "n/a",
            "single_ratio": f"{single / peer_single:.2f}" if peer_single else "n/a",
        }
    for key, value in lines.items():
        print(f"{key}={value}")
    for key, value in results.items():
        if key not in aliased and key not in lines:
            print(f"{key}={value}")
    print(f"ingest_workers={args.ingest_workers}")
    print(f"load_generator={args.load}")
    print(f"connections={args.connections}")
    print(f"seconds={args.seconds:g}")
    print(f"storage={'external' if args.dsn else 'embedded'}")
    print(f"cpus={os.cpu_count()}")


if __name__ == "__main__":
    sys.exit(main())
