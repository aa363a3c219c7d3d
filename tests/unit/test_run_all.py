"""bench/run_all.py: parsing, medians, goals and the table (no benchmark is run)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from bench import run_all
from bench.run_all import Bench, Metric, RunResult, evaluate, parse_output, rows_for


def ok(**values: float | str) -> RunResult:
    """A successful run; numbers as parse_output makes them (floats)."""
    return RunResult(
        "b", "ok", 1.0, {k: v if isinstance(v, str) else float(v) for k, v in values.items()}
    )


def test_parse_output_takes_name_value_lines_only() -> None:
    out = "starting...\np99_us=12.5\nstate=done\nratio=n/a\n  spaced=3 \nnot a line\np99_us=13\n"
    assert parse_output(out) == {"p99_us": 13.0, "state": "done", "ratio": "n/a", "spaced": 3.0}


def test_measured_is_the_median_with_the_range() -> None:
    runs = [ok(x=10), ok(x=30), ok(x=20)]
    row = evaluate(Metric("x", ">=", 15), runs, 3)
    assert (row.measured, row.range, row.runs, row.result) == ("20", "10..30", "3/3", "met")


def test_a_missed_goal() -> None:
    row = evaluate(Metric("p99_us", "<=", 50), [ok(p99_us=61.2)], 1)
    assert (row.goal, row.measured, row.result) == ("<= 50", "61.2", "missed")


def test_correctness_figures_show_the_worst_run_and_must_hold_in_every_run() -> None:
    runs = [ok(duplicates=0), ok(duplicates=2), ok(duplicates=0)]
    row = evaluate(Metric("duplicates", "==", 0, worst=True), runs, 3)
    assert (row.measured, row.result) == ("2", "missed")


def test_a_goal_against_another_figure_of_the_same_run() -> None:
    runs = [ok(spent=9.0, cap=10.0), ok(spent=10.5, cap=10.0)]
    metric = Metric("spent", "<=", "cap", target_is_key=True, worst=True)
    row = evaluate(metric, runs, 2)
    assert (row.goal, row.measured, row.result) == ("<= cap (10)", "10.5", "missed")
    assert evaluate(metric, runs[:1], 1).result == "met"


def test_string_goals() -> None:
    metric = Metric("metad_durable", "==", "yes", worst=True)
    assert evaluate(metric, [ok(metad_durable="yes")] * 2, 2).result == "met"
    row = evaluate(metric, [ok(metad_durable="yes"), ok(metad_durable="NO")], 2)
    assert (row.measured, row.result) == ("yes/NO", "missed")


def test_a_comparison_shows_the_peer_and_the_ratio_of_the_same_runs() -> None:
    metric = Metric("metad_events_per_s", ">=", 5000, peer="peer_events_per_s", ratio="ratio")
    runs = [
        ok(metad_events_per_s=4000, peer_events_per_s=8000, ratio=0.5),
        ok(metad_events_per_s=4400, peer_events_per_s=11000, ratio=0.4),
        ok(metad_events_per_s=6000, peer_events_per_s=10000, ratio=0.6),
    ]
    row = evaluate(metric, runs, 3)
    assert (row.measured, row.peer, row.ratio, row.result) == ("4400", "10000", "0.50", "missed")


def test_a_failed_or_timed_out_bench_is_a_row_not_a_gap() -> None:
    bench = Bench("x", metrics=(Metric("a", ">=", 1), Metric("info_only")))
    rows = rows_for(bench, [RunResult("x", "timeout", 5.0, stderr_tail=["boom"])])
    assert [(r.metric, r.measured, r.runs, r.result) for r in rows] == [
        ("x.a", "timeout", "0/1", "timeout")
    ]


def test_some_runs_failed() -> None:
    bench = Bench("x", metrics=(Metric("a", ">=", 1),))
    runs = [ok(a=2), RunResult("x", "failed", 1.0, returncode=1)]
    (row,) = rows_for(bench, runs)
    assert (row.runs, row.result) == ("1/2", "met (1 failed)")


def test_a_bench_without_listed_goals_shows_its_figures_as_info() -> None:
    rows = rows_for(Bench("new"), [ok(a=1, b=2, c="text")])
    assert [(r.metric, r.result) for r in rows] == [("new.a", "info"), ("new.b", "info")]


def test_text_table_lines_up() -> None:
    rows = rows_for(Bench("x", metrics=(Metric("a", ">=", 1),)), [ok(a=2)])
    lines = run_all.text_table(rows).splitlines()
    assert lines[0].split() == list(run_all.COLUMNS)
    assert lines[2].split() == ["x.a", ">=", "1", "2", "1/1", "met"]


def test_select_rejects_unknown_names() -> None:
    assert [b.name for b in run_all.select("decision,startup.py")] == ["decision", "startup"]
    with pytest.raises(SystemExit):
        run_all.select("nope")


def test_every_listed_bench_names_figures_its_source_prints() -> None:
    """The keys in the table are ones the benchmark's source prints (guards renames);
    webhook_ingest builds some as ``f"{name}_durable"`` with name metad or metad_single."""
    for bench in run_all.BENCHES:
        if not bench.script.exists():
            continue
        source = bench.script.read_text()
        for metric in bench.metrics:
            built = metric.key.removeprefix("metad_single").removeprefix("metad")
            assert metric.key in source or built in source, (bench.name, metric.key)


def test_main_prints_the_table_then_medians_and_appends_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def runner(bench: Bench, args: Sequence[str], timeout: float) -> RunResult:
        if bench.name == "decision":
            return RunResult(bench.name, "ok", 1.0, {"p99_us": 7.0, "p50_us": 3.0})
        return RunResult(bench.name, "failed", 2.0, returncode=1, stderr_tail=["Traceback"])

    md = tmp_path / "RESULTS.md"
    code = run_all.main(["--only", "decision,startup", "--markdown", str(md)], runner=runner)
    out = capsys.readouterr().out
    assert code == 1
    assert "decision.p99_us=7" in out.splitlines()
    assert "startup.status=failed" in out.splitlines()
    assert "Traceback" in out
    text = md.read_text()
    assert "| decision.p99_us | <= 50 | 7 |" in text
    assert "cores" in text
    assert "commit:" in text


# --- a benchmark that measured itself but not its comparison peer ---------------------------

PEER_MISSING = "the peer needs FastAPI and uvicorn, installed for the benchmark only: pip install"


def _webhook_ingest() -> Bench:
    (bench,) = run_all.select("webhook_ingest")
    return bench


def test_a_skipped_peer_keeps_the_figures_and_skips_only_the_ratio() -> None:
    runs = [ok(metad_events_per_s=6000, metad_durable="yes", peer_skipped=PEER_MISSING)] * 2
    rows = {r.metric: r for r in rows_for(_webhook_ingest(), runs)}
    rate = rows["webhook_ingest.metad_events_per_s"]
    assert (rate.measured, rate.peer, rate.ratio, rate.result) == (
        "6000",
        "skipped",
        "skipped",
        "met",
    )
    ratio = rows["webhook_ingest.ratio"]
    assert (ratio.measured, ratio.runs, ratio.result) == ("skipped", "0/2", "skipped")
    assert rows["webhook_ingest.metad_durable"].result == "met"


def test_a_ratio_missing_without_a_skipped_peer_still_fails() -> None:
    (row,) = rows_for(Bench("x", metrics=(Metric("ratio", ">=", 1.0, needs_peer=True),)), [ok(a=1)])
    assert row.result == "failed"


def test_runs_with_and_without_the_peer() -> None:
    metric = Metric("ratio", ">=", 1.0, needs_peer=True)
    runs = [ok(ratio=0.3), ok(peer_skipped=PEER_MISSING)]
    row = evaluate(metric, runs, 3)  # the third run failed
    assert (row.measured, row.runs, row.result) == (
        "0.30",
        "1/3",
        "missed (1 failed, 1 peer skipped)",
    )


def test_run_bench_accepts_a_run_that_says_its_peer_was_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_all.bench_runs, "BENCH_DIR", tmp_path)
    bench = Bench(
        "fake", metrics=(Metric("rate", ">=", 1), Metric("ratio", ">=", 1, needs_peer=True))
    )
    script = bench.script
    script.write_text(f"print('rate=5')\nprint('peer_skipped={PEER_MISSING}')\n")
    result = run_all.run_bench(bench, (), 60)
    assert (result.status, result.values["rate"]) == ("ok", 5.0)
    script.write_text("print('rate=5')\n")  # no ratio and no reason: a broken run
    result = run_all.run_bench(bench, (), 60)
    assert result.status == "failed"
    assert result.stderr_tail[0] == "(exit 0 but no ratio line)"


def test_main_reports_a_skipped_peer_without_failing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def runner(bench: Bench, args: Sequence[str], timeout: float) -> RunResult:
        values: dict[str, float | str] = {
            "metad_events_per_s": 6000.0,
            "metad_durable": "yes",
            "metad_single_durable": "yes",
            "peer_skipped": PEER_MISSING,
        }
        return RunResult(bench.name, "ok", 1.0, values)

    md = tmp_path / "RESULTS.md"
    argv = ["--only", "webhook_ingest", "--runs", "1", "--markdown", str(md)]
    code = run_all.main(argv, runner=runner)
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "webhook_ingest.status=ok" in lines
    assert "webhook_ingest.metad_events_per_s=6000" in lines
    assert f"webhook_ingest.peer_skipped={PEER_MISSING}" in lines
    assert f"webhook_ingest: peer skipped in 1/1 runs: {PEER_MISSING}" in lines
    text = md.read_text()
    assert "| webhook_ingest.ratio | >= 1.0 x peer | skipped |" in text
    assert f"- webhook_ingest: peer skipped in 1/1 runs: {PEER_MISSING}" in text


def test_a_missed_goal_shows_the_benchmarks_own_report(capsys: pytest.CaptureFixture[str]) -> None:
    """The totals say a check failed; the suite's own table says which one."""
    table = "scenario  failed checks\nfuzz      RSS flat (< 25 MiB growth after warm-up)"
    stdout = f"{table}\nlost=0\nduplicates=0\ncrashes=0\naccepted_unsigned=0\nfailed_checks=1\n"
    assert run_all.report_lines(stdout) == table.splitlines()

    def runner(bench: Bench, args: Sequence[str], timeout: float) -> RunResult:
        run = RunResult(bench.name, "ok", 1.0, parse_output(stdout))
        run.report = run_all.report_lines(stdout)
        return run

    assert run_all.main(["--only", "reliability", "--runs", "1"], runner=runner) == 0
    out = capsys.readouterr().out
    assert "reliability run 1/1, its own report:" in out
    assert "  fuzz      RSS flat (< 25 MiB growth after warm-up)" in out.splitlines()


def test_a_met_goal_keeps_the_report_out_of_the_way(capsys: pytest.CaptureFixture[str]) -> None:
    def runner(bench: Bench, args: Sequence[str], timeout: float) -> RunResult:
        values = dict.fromkeys(("lost", "duplicates", "crashes", "accepted_unsigned"), 0.0)
        return RunResult(bench.name, "ok", 1.0, values | {"failed_checks": 0.0}, report=["x"])

    run_all.main(["--only", "reliability", "--runs", "1"], runner=runner)
    assert "its own report" not in capsys.readouterr().out
