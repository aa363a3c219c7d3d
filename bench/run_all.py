"""Run every benchmark under bench/ and print one table against the targets (issue M12).

Each benchmark runs as its own subprocess (from the repository root, with this Python),
``--runs`` times (3; 1 with ``--quick``), one after another: the rounds are interleaved
(every benchmark once, then every benchmark again) so that a spell of load on a shared
machine does not land on all the runs of one benchmark. Their ``name=value`` output lines
are parsed and the table shows, per metric:

  metric     ``bench.name`` as the benchmark prints it
  goal       the target from the issues (M2-M8), or ``info`` for context figures
  measured   the median of the runs (for correctness figures such as duplicates or
             ``durable``: the worst run, and the goal must hold in every run)
  range      lowest and highest run
  peer       for comparisons (webhook ingest against the FastAPI/uvicorn peer): the
             peer's figure, measured by the same benchmark run with the same load
  ratio      metad / peer as that run computed it (median over runs)
  runs       runs that produced the figure / runs made
  result     met, missed, failed (the benchmark exited non-zero, timed out or did not
             print the figure), skipped or info

A comparison peer that a benchmark could not run (webhook ingest without FastAPI and
uvicorn installed) is not a failure of the benchmark: it prints ``peer_skipped=<why>``
and its own figures, which the table keeps; the figures only the peer yields (the ratio)
show as skipped, and why is printed below the table.

A benchmark that fails or times out is reported as such in the table, with the last lines
of its stderr below it; each has a timeout (scaled by ``--timeout-factor``), after which
it gets SIGINT (so its ``finally`` blocks stop the daemons and servers it started), then
its process group SIGTERM and SIGKILL. A ``bench/*.py`` file that is neither listed here
nor a helper is named at the end as not run, never silently skipped.

After the table every median is printed as ``bench.name=value`` (and ``bench.status=ok``
/ ``failed`` / ``timeout`` / ``not_run``), so the output stays parseable. The exit status
is 0 when every benchmark ran, 1 when one failed or timed out (missed targets alone do
not change it: the table says so).

Usage: ``python bench/run_all.py [--runs N] [--quick] [--only NAME,...]
[--markdown FILE] [--timeout-factor F] [--list]``. ``--quick`` runs once, with a smaller
crash campaign; ``--markdown bench/RESULTS.md`` appends the table with the date, the
machine (cores, memory and load from /proc), the Python version and the git commit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its siblings, run as a script

import bench_runs
from bench_runs import (
    BENCH_DIR,
    LINE,
    PEER_SKIPPED,
    REPO,
    STDERR_TAIL,
    Bench,
    Metric,
    RunResult,
    Value,
    log,
    parse_output,
    parse_value,
    report_lines,
    run_bench,
)
from bench_table import (
    COLUMNS,
    Row,
    _describe,
    _read,
    evaluate,
    fmt,
    machine,
    markdown_section,
    markdown_table,
    medians,
    peer_skips,
    rows_for,
    text_table,
)

__all__ = [
    "BENCHES",
    "BENCH_DIR",
    "COLUMNS",
    "HELPERS",
    "LINE",
    "PEER_SKIPPED",
    "REPO",
    "STDERR_TAIL",
    "Bench",
    "Metric",
    "Row",
    "RunResult",
    "Value",
    "evaluate",
    "fmt",
    "main",
    "markdown_table",
    "parse_output",
    "parse_value",
    "report_lines",
    "rows_for",
    "run_bench",
    "select",
    "text_table",
]

# Modules under bench/ that are not benchmarks (imported or started by one).
HELPERS = {
    "run_all.py",
    "bench_runs.py",
    "bench_table.py",
    "campaign_harness.py",
    "webhook_peer.py",
    "webhook_load.py",
    "procstat.py",
}

BENCHES: tuple[Bench, ...] = (
    Bench(
        "decision",
        timeout_s=300,
        metrics=(Metric("p99_us", "<=", 50), Metric("p50_us")),
    ),
    Bench(
        "startup",
        args=("--budget-messages", "100000"),
        timeout_s=300,
        metrics=(
            Metric("startup_to_ready_s", "<=", 2),
            Metric("startup_cold_to_ready_s"),
            Metric("startup_first_with_budget_history_s"),
            Metric("budget_replay_us_per_entry"),
            Metric("startup_with_budget_history_s"),
        ),
    ),
    Bench(
        "retention",
        quick_args=("--messages", "60000"),
        timeout_s=600,
        metrics=(
            Metric("kept_ok", "==", 1, worst=True),
            Metric("rows_per_s"),
            Metric("prune_s"),
            Metric("idle_prune_s"),
        ),
    ),
    Bench(
        "sim_throughput",
        timeout_s=240,
        metrics=(Metric("sim_sends_per_s", ">=", 3000),),
    ),
    Bench(
        "windows_memory",
        timeout_s=900,
        metrics=(
            Metric("rss_mb", "<=", 300),
            Metric("rebuild_s", "<=", 10),
            Metric("windows", "==", 1_000_000, worst=True),
            Metric("rss_peak_mb"),
        ),
    ),
    Bench(
        "webhook_ingest",
        timeout_s=900,
        metrics=(
            Metric(
                "metad_events_per_s",
                ">=",
                5000,
                peer="peer_events_per_s",
                ratio="ratio",
            ),
            Metric("ratio", ">=", 1.0, goal_text=">= 1.0 x peer", needs_peer=True),
            Metric("metad_durable", "==", "yes", worst=True),
            Metric("metad_single_durable", "==", "yes", worst=True),
            Metric(
                "metad_single_events_per_s",
                peer="peer_single_events_per_s",
                ratio="single_ratio",
            ),
            Metric("p99_ms"),
            Metric("metad_cpu_us_per_post_ingest", peer="peer_cpu_us_per_post"),
            Metric("metad_cpu_us_per_post_postgres"),
            Metric("metad_cpu_us_per_post_daemon"),
        ),
    ),
    Bench(
        "console_load",
        timeout_s=600,
        metrics=(
            Metric("p99_ms", "<=", 250),
            Metric("send_rate_ratio", ">=", 0.9, goal_text="~ 1 (>= 0.90)"),
            Metric("send_per_cpu_s_ratio_raw_reader"),
            Metric("events_missing"),
        ),
    ),
    Bench(
        "campaign_throughput",
        timeout_s=1200,
        metrics=(
            Metric("msgs_per_s", ">=", 1000),
            Metric("msgs_per_s_overall"),
            Metric("first_send_s"),
            Metric("cpu_us_per_msg", "<=", 250),
            Metric("pg_cpu_us_per_msg"),
            Metric("statuses_per_s"),
        ),
    ),
    Bench(
        "crash_campaign",
        quick_args=("--recipients", "2000", "--kills", "5"),
        timeout_s=2400,
        quick_timeout_s=900,
        metrics=(
            Metric("duplicates", "==", 0, worst=True),
            Metric("lost", "==", 0, worst=True),
            Metric("spent", "<=", "cap", target_is_key=True, worst=True),
            Metric("in_doubt"),
            Metric("kills"),
            Metric("recipients"),
        ),
    ),
    Bench(  # issue M10
        "scale_out",
        timeout_s=1800,
        optional=True,
        metrics=(
            Metric("duplicates", "==", 0, worst=True),
            Metric("lost", "==", 0, worst=True),
            Metric("takeover_s", goal_text="info (within the lease)"),
            Metric("msgs_per_s_1"),
            Metric("msgs_per_s_2"),
            Metric("msgs_per_s_3"),
        ),
    ),
    Bench(  # issue M11: the long mode's totals
        "reliability",
        timeout_s=3600,
        optional=True,
        metrics=(
            Metric("lost", "==", 0, worst=True),
            Metric("duplicates", "==", 0, worst=True),
            Metric("crashes", "==", 0, worst=True),
            Metric("accepted_unsigned", "==", 0, worst=True),
            Metric("failed_checks", "==", 0, worst=True),
        ),
    ),
)


# --- main ------------------------------------------------------------------------------


def select(names: str | None, benches: Sequence[Bench] = BENCHES) -> list[Bench]:
    if not names:
        return list(benches)
    wanted = [n.strip().removesuffix(".py") for n in names.split(",") if n.strip()]
    known = {b.name: b for b in benches}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"run_all: unknown benchmark(s) {', '.join(unknown)}; see --list")
    return [b for b in benches if b.name in wanted]


def unlisted() -> list[str]:
    """bench/*.py files that are neither benchmarks listed here nor helpers."""
    listed = {b.script.name for b in BENCHES} | HELPERS
    return sorted(p.name for p in bench_runs.BENCH_DIR.glob("*.py") if p.name not in listed)


def main(argv: Sequence[str] | None = None, runner: Callable[..., RunResult] = run_bench) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="runs per benchmark (3)")
    parser.add_argument("--quick", action="store_true", help="1 run, smaller crash campaign")
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--markdown", type=Path, help="append the table to this file")
    parser.add_argument("--timeout-factor", type=float, default=1.0)
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    if runs < 1:
        parser.error("--runs must be at least 1")
    benches = select(args.only)
    if args.list:
        for b in BENCHES:
            extra = " (if present)" if b.optional else ""
            print(f"{b.name}{extra}: {' '.join(b.args)}")
        return 0

    def bench_args(b: Bench) -> tuple[str, ...]:
        return b.quick_args if args.quick and b.quick_args is not None else b.args

    def timeout(b: Bench) -> float:
        base = b.quick_timeout_s if args.quick and b.quick_timeout_s else b.timeout_s
        return base * float(args.timeout_factor)

    not_run = [f"{b.name} (no bench/{b.name}.py yet)" for b in benches if not b.script.exists()]
    not_run += [f"{n} (not listed in run_all.py)" for n in unlisted()]
    present = [b for b in benches if b.script.exists()]
    load_start = " ".join(_read("/proc/loadavg").split()[:3])
    started = time.monotonic()
    results: dict[str, list[RunResult]] = {b.name: [] for b in present}
    for n in range(runs):
        for b in present:
            log(f"{b.name} run {n + 1}/{runs}: {' '.join(bench_args(b)) or '(defaults)'}")
            result = runner(b, bench_args(b), timeout(b))
            results[b.name].append(result)
            log(f"{b.name} run {n + 1}/{runs}: {_status_line(result)}")

    rows = [row for b in present for row in rows_for(b, results[b.name])]
    failures = [r for b in present for r in results[b.name] if r.status != "ok"]
    skipped = [line for b in present for line in peer_skips(b, results[b.name])]
    print(text_table(rows))
    for b in present:
        if any(r.result == "missed" for r in rows_for(b, results[b.name])):
            for n, run in enumerate(results[b.name], 1):
                if run.report:
                    print(f"\n{b.name} run {n}/{len(results[b.name])}, its own report:")
                    print("\n".join(f"  {line}" for line in run.report))
    for run in failures:
        print(f"\n{run.bench}: {_describe(run)}; last lines of stderr:")
        for line in run.stderr_tail or ["(nothing)"]:
            print(f"  {line}")
    for line in skipped:
        print(f"\n{line}")
    for name in not_run:
        print(f"\nnot run: {name}")
    print()
    for b in present:
        for key, value in medians(b, results[b.name]):
            print(f"{key}={value}")
    for b in benches:
        if b not in present:
            print(f"{b.name}.status=not_run")

    if args.markdown:
        info = machine()
        duration = time.monotonic() - started
        info |= {
            "load_start": load_start or "?",
            "load_end": " ".join(_read("/proc/loadavg").split()[:3]) or "?",
            "command": "python bench/run_all.py " + " ".join(argv or sys.argv[1:]),
            "duration": f"{duration / 60:.1f} min",
        }
        now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        mode = "quick run" if args.quick else "full run"
        header = f"{now}: {mode}, {runs} run{'s' if runs > 1 else ''} per benchmark"
        section = markdown_section(rows, failures, info, header, not_run, skipped)
        with args.markdown.open("a") as f:
            f.write("\n" + section)
        log(f"appended to {args.markdown}")
    return 1 if failures else 0


def _status_line(result: RunResult) -> str:
    if result.status == "ok":
        return f"ok in {result.seconds:.0f} s"
    return f"{result.status.upper()} ({_describe(result)})"


if __name__ == "__main__":
    sys.exit(main())
