"""The reliability suite's long mode: every scenario of ``tests/reliability`` at full
size, then a table of results and the totals.

Scenarios (issue M11), long sizes (``--quick``: the CI sizes):

  crash     kill -9 during a 10,000-recipient campaign, 20 times (cap at 90 %)
  faults    3,000 recipients under 10 % 5xx, timeouts, latency spikes, 130429 and
            131056 bursts, a 131049 wave, one WABA's token revoked (190)
  storm     2,000 recipients, every webhook delivered 2-3 times and out of order
  fuzz      100,000 fuzzed / mutated / truncated / oversized / unsigned webhook bodies
  atheris   200,000 coverage-guided runs of the signature check and the parser (only
            when ``import atheris`` works; e.g. ``PYTHONPATH=<dir with atheris>``)
  outage    the daemon's PostgreSQL (external mode) stopped 30 s mid-campaign
  actors    100 crashes injected across chip and coordinator actors
  shared    3 daemons sharing a capped 2,000-recipient campaign: 6 kill -9, a clean
            stop, a freeze, 3 store outages; checkpoints + journal, every daemon's
            totals and the cap agree
  config    generated broken metad.toml / campaign files and CSVs (tests/reliability)
  security  socket mode and other users, secrets in logs and ctl, unsigned webhooks,
            a world-readable Flows key (tests/reliability)

Prints one row per scenario (lost, duplicates, crashes, accepted unsigned, checks that
failed, seconds, notes), then ``lost=``, ``duplicates=``, ``crashes=``,
``accepted_unsigned=`` and ``failed_checks=`` totals, one per line. Goal: all 0.

Usage: ``python bench/reliability.py [--quick] [--only crash,fuzz,...] [--dsn DSN]``
(``--dsn``: a PostgreSQL where databases may be created; default: an embedded one).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reliability.scenarios import (  # noqa: E402
    Result,
    crash_campaign,
    graph_faults,
    storage_outage,
    webhook_fuzz,
    webhook_storm,
)
from tests.reliability.shared_budget import shared_budget  # noqa: E402

LONG: dict[str, dict[str, float]] = {
    "crash": {"recipients": 10_000, "kills": 20, "rate": 100.0},
    "faults": {"recipients": 3_000, "rate": 60.0},
    "storm": {"recipients": 2_000, "rate": 60.0},
    "fuzz": {"examples": 100_000, "workers": 4},
    "atheris": {"runs": 200_000},
    "outage": {"recipients": 3_000, "rate": 30.0, "down_s": 30.0},
    "actors": {"crashes": 100, "recipients": 300},
    "shared": {"recipients": 2_000, "kills": 6, "rate": 30.0, "outages": 3},
}
QUICK: dict[str, dict[str, float]] = {
    "crash": {"recipients": 150, "kills": 3, "rate": 25.0},
    "faults": {"recipients": 240, "rate": 30.0},
    "storm": {"recipients": 120, "rate": 30.0},
    "fuzz": {"examples": 2_000, "workers": 1},
    "atheris": {"runs": 20_000},
    "outage": {"recipients": 150, "rate": 20.0, "down_s": 6.0},
    "actors": {"crashes": 40, "recipients": 60},
    "shared": {"recipients": 150, "kills": 3, "rate": 6.0},
}
ORDER = (
    "crash",
    "faults",
    "storm",
    "fuzz",
    "atheris",
    "outage",
    "actors",
    "shared",
    "config",
    "security",
)


def _actors(tmp: Path, dsn: str, **size: float) -> Result:
    import trio

    from tests.reliability.actor_crashes import actor_crash_storm
    from tests.reliability.harness import scratch_database

    tmp.mkdir(parents=True, exist_ok=True)
    with scratch_database(dsn, "actors") as db:
        # The daemon migrates a fresh database on start, as in the other scenarios.
        return trio.run(
            lambda: actor_crash_storm(
                db, tmp, crashes=int(size["crashes"]), recipients=int(size["recipients"])
            )
        )


def _pytest(name: str, target: str) -> Result:
    """A test module of the suite run as is (its checks are the row's checks)."""
    began = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    tail = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-200:]
    res = Result(name, checks={f"pytest {target}": out.returncode == 0})
    res.detail = {"pytest": tail}
    res.seconds = time.monotonic() - began
    return res


def _atheris(runs: int) -> Result:
    """The coverage-guided parser fuzz, when atheris imports (PYTHONPATH may point at it)."""
    began = time.monotonic()
    res = Result(f"atheris: {runs} parser runs")
    probe = subprocess.run([sys.executable, "-c", "import atheris"], capture_output=True)
    if probe.returncode != 0:
        res.detail = {"error": "atheris not installed: skipped"}
        return res
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.reliability.atheris_webhook",
            f"-runs={runs}",
            "-max_len=4096",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    res.crashes = 0 if out.returncode == 0 else 1
    done = [line for line in out.stderr.splitlines() if "DONE" in line or "Done" in line]
    res.detail = {"atheris": done[-1] if done else out.stderr[-300:]}
    res.seconds = time.monotonic() - began
    return res


def run(which: list[str], sizes: dict[str, dict[str, float]], dsn: str, work: Path) -> list[Result]:
    def sized(name: str) -> dict[str, float]:
        return dict(sizes[name])

    runs: dict[str, Callable[[], Result]] = {
        "crash": lambda: crash_campaign(
            work / "crash",
            dsn,
            recipients=int(sized("crash")["recipients"]),
            kills=int(sized("crash")["kills"]),
            rate=sized("crash")["rate"],
        ),
        "faults": lambda: graph_faults(
            work / "faults",
            dsn,
            recipients=int(sized("faults")["recipients"]),
            rate=sized("faults")["rate"],
        ),
        "storm": lambda: webhook_storm(
            work / "storm",
            dsn,
            recipients=int(sized("storm")["recipients"]),
            rate=sized("storm")["rate"],
        ),
        "fuzz": lambda: webhook_fuzz(
            work / "fuzz",
            dsn,
            examples=int(sized("fuzz")["examples"]),
            workers=int(sized("fuzz")["workers"]),
        ),
        "atheris": lambda: _atheris(int(sized("atheris")["runs"])),
        "outage": lambda: storage_outage(
            work / "outage",
            recipients=int(sized("outage")["recipients"]),
            rate=sized("outage")["rate"],
            down_s=sized("outage")["down_s"],
        ),
        "actors": lambda: _actors(work / "actors", dsn, **sized("actors")),
        "shared": lambda: shared_budget(
            work / "shared",
            dsn,
            recipients=int(sized("shared")["recipients"]),
            kills=int(sized("shared")["kills"]),
            rate=sized("shared")["rate"],
            outages=int(sized("shared").get("outages", 0)),
        ),
        "config": lambda: _pytest("config and input", "tests/reliability/test_config_input.py"),
        "security": lambda: _pytest("security", "tests/reliability/test_security.py"),
    }
    results = []
    for name in which:
        print(f"== {name} …", file=sys.stderr, flush=True)
        try:
            res = runs[name]()
        except Exception as exc:  # a scenario that cannot finish is a failed check
            res = Result(name, checks={"scenario finished": False})
            res.detail = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        print(f"   {res}", file=sys.stderr, flush=True)
        results.append(res)
    return results


def table(results: list[Result]) -> str:
    head = ("scenario", "lost", "dup", "crash", "unsigned", "failed checks", "s", "notes")
    rows = [
        (
            r.name,
            str(r.lost),
            str(r.duplicates),
            str(r.crashes),
            str(r.accepted_unsigned),
            ", ".join(r.failed_checks) or "-",
            f"{r.seconds:.0f}",
            _notes(r),
        )
        for r in results
    ]
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head) - 1)]
    lines = []
    for row in [head, *rows]:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines)


_NOTE_KEYS = (
    "kills",
    "received",
    "in_doubt",
    "failed",
    "state",
    "spent",
    "unsettled_usd",
    "cap",
    "reasons",
    "copies",
    "read(daemon)",
    "sent",
    "by_status",
    "rss_kib_before",
    "rss_kib_after",
    "answers_while_down",
    "max_restart_ms",
    "cascaded_crashes",
    "pytest",
    "atheris",
    "error",
)


def _notes(r: Result) -> str:
    return " ".join(f"{k}={r.detail[k]}" for k in _NOTE_KEYS if k in r.detail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the CI sizes")
    parser.add_argument("--only", default="", help="comma-separated scenarios: " + ",".join(ORDER))
    parser.add_argument("--dsn", default="", help="admin DSN (default: embedded PostgreSQL)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    which = [w for w in (args.only.split(",") if args.only else ORDER) if w]
    unknown = set(which) - set(ORDER)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    sizes = QUICK if args.quick else LONG
    work = Path(tempfile.mkdtemp(prefix="metad-reliability-"))
    server = None
    began = time.monotonic()
    try:
        dsn = args.dsn
        if not dsn:
            from daemon.store.embedded import start_embedded_blocking

            server = start_embedded_blocking(work / "admin-pg")
            dsn = server.dsn
        results = run(which, sizes, dsn, work)
    finally:
        if server is not None:
            server.stop_blocking()
        if args.keep:
            print(f"workdir={work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(table(results))
    print(f"lost={sum(r.lost for r in results)}")
    print(f"duplicates={sum(r.duplicates for r in results)}")
    print(f"crashes={sum(r.crashes for r in results)}")
    print(f"accepted_unsigned={sum(r.accepted_unsigned for r in results)}")
    print(f"failed_checks={sum(len(r.failed_checks) for r in results)}")
    print(f"seconds={time.monotonic() - began:.0f}")


if __name__ == "__main__":
    main()
