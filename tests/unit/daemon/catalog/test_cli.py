"""``metad catalog push``: what is refused before any call, and Meta's failures as one line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import httpx
import pytest

import daemon.catalog.cli as catalog_cli
from daemon.catalog.push import PushReport
from daemon.graph.errors import GraphError

SHIFTS = "vaga_id,hospital,especialidade,data,valor_brl,status\nV1,H,P,2026-12-01,1800.00,aberta\n"


def _config(tmp_path: Path, *, serve: bool = True) -> Path:
    path = tmp_path / "metad.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"
[graph]
base_url = "http://127.0.0.1:1"
[sandbox]
enabled = true
serve = {str(serve).lower()}
listen = "127.0.0.1:18999"
[catalog]
id = "300000000000001"
[[wabas]]
id = "100000000000001"
[[wabas]]
id = "100000000000002"
"""
    )
    return path


def _args(tmp_path: Path, *extra: str, text: str = SHIFTS, serve: bool = True) -> Any:
    parser = argparse.ArgumentParser()
    catalog_cli.add_arguments(parser)
    listings = tmp_path / "shifts.csv"
    listings.write_text(text, encoding="utf-8")
    return parser.parse_args(
        ["push", str(listings), "-c", str(_config(tmp_path, serve=serve)), *extra]
    )


@pytest.fixture
def pushes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Stands in for the store and the Graph API: records what would be pushed (and
    ``--resync`` calls as a fifth item)."""
    calls: list[tuple[Any, ...]] = []

    async def push(cfg: Any, listings: Any, catalog: str, waba: str, resync: bool) -> PushReport:
        calls.append((catalog, waba, [x.id for x in listings], *(["resync"] if resync else [])))
        if resync:
            return PushReport(
                catalog, created=["shift_V1"], remembered=[f"shift_R{i}" for i in range(12)]
            )
        return PushReport(catalog, created=["shift_V1"])

    monkeypatch.setattr(catalog_cli, "_push", push)
    return calls


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (
            ("--catalog", "999"),
            "metad catalog: unknown catalog 999 (configured: 300000000000001)\n",
        ),
        (
            ("--waba", "999"),
            "metad catalog: unknown WABA 999 (configured: 100000000000001, 100000000000002)\n",
        ),
    ],
)
def test_an_unknown_catalog_or_waba_is_refused_before_any_call(
    tmp_path: Path,
    pushes: list[Any],
    capsys: pytest.CaptureFixture[str],
    flag: tuple[str, str],
    message: str,
) -> None:
    assert catalog_cli.run(_args(tmp_path, *flag)) == 2
    assert capsys.readouterr().err == message
    assert pushes == []


def test_a_configured_waba_and_a_file_with_a_byte_order_mark_are_pushed(
    tmp_path: Path, pushes: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        catalog_cli.run(_args(tmp_path, "--waba", "100000000000002", text="\ufeff" + SHIFTS)) == 0
    )
    assert pushes == [("300000000000001", "100000000000002", ["V1"])]
    assert capsys.readouterr().out.startswith("catalog 300000000000001: 1 created,")


def test_resync_is_asked_for_and_what_it_remembered_is_summed_up(
    tmp_path: Path, pushes: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert catalog_cli.run(_args(tmp_path, "--resync")) == 0
    assert pushes == [("300000000000001", "100000000000001", ["V1"], "resync")]
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        "  12 product(s) Meta has as the file says, not sent, now remembered: "
        + ", ".join(f"shift_R{i}" for i in range(10))
        + " and 2 more"
    )


def test_the_resync_flag_is_explained_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    catalog_cli.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["push", "--help"])
    assert "--resync" in capsys.readouterr().out


def _failing(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    async def push(*args: Any) -> PushReport:
        raise exc

    monkeypatch.setattr(catalog_cli, "_push", push)


@pytest.mark.parametrize("grouped", [False, True])
def test_an_unreachable_graph_api_is_one_line_naming_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    grouped: bool,
) -> None:
    error = GraphError.from_transport(httpx.ConnectError("connection refused"), sent=False)
    _failing(monkeypatch, ExceptionGroup("store", [error]) if grouped else error)
    assert catalog_cli.run(_args(tmp_path)) == 1
    assert capsys.readouterr().err == (
        "metad catalog: the Graph API at http://127.0.0.1:18999 cannot be reached"
        " (ConnectError: connection refused [ConnectError]); in sandbox mode `metad run`"
        " serves the simulator there: is it running?\n"
    )


def test_without_serve_the_configured_graph_api_and_the_simulator_command_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _failing(monkeypatch, GraphError.from_transport(httpx.ConnectError("refused"), sent=False))
    assert catalog_cli.run(_args(tmp_path, serve=False)) == 1
    err = capsys.readouterr().err
    assert err.startswith("metad catalog: the Graph API at http://127.0.0.1:1 cannot be reached")
    assert err.endswith("start the simulator: `metad sim`\n")


def test_a_refusal_by_meta_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _failing(monkeypatch, GraphError("Unknown object", http_status=400, code=100))
    assert catalog_cli.run(_args(tmp_path)) == 1
    assert (
        capsys.readouterr().err == "metad catalog: Meta refused: (100) Unknown object [HTTP 400]\n"
    )


def test_an_answer_not_shaped_like_metas_is_not_called_a_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _failing(monkeypatch, GraphError.from_response(502, b"<html>Bad Gateway</html>"))
    assert catalog_cli.run(_args(tmp_path)) == 1
    assert capsys.readouterr().err == (
        "metad catalog: unexpected answer from the Graph API at http://127.0.0.1:18999:"
        " unexpected non-JSON answer (HTTP 502) [HTTP 502]\n"
    )


def test_a_missing_token_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "no access token configured for 100000000000001"
    _failing(monkeypatch, GraphError(message, type="NoToken", sent=False, code=190))
    assert catalog_cli.run(_args(tmp_path)) == 1
    assert capsys.readouterr().err == f"metad catalog: {message}\n"


def test_another_failure_is_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = GraphError("Unknown object", http_status=400, code=100)
    _failing(monkeypatch, ExceptionGroup("store", [error, KeyError("bug")]))
    with pytest.raises(ExceptionGroup):
        catalog_cli.run(_args(tmp_path))


def test_bad_rows_are_printed_and_nothing_is_pushed(
    tmp_path: Path, pushes: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(tmp_path, text=SHIFTS.replace("1800.00", "NaN"))
    assert catalog_cli.run(args) == 1
    assert capsys.readouterr().err == (
        f'{args.file}:line 2: valor_brl: "NaN" is not a valid price'
        " (a number of at least 0, like 1800.00)\n"
        f"metad catalog: {args.file}: nothing pushed (1 problem)\n"
    )
    assert pushes == []


def test_the_help_names_the_required_columns(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    catalog_cli.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["push", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "columns vaga_id, hospital, especialidade, data, valor_brl, status;" in help_text
    assert "fechada" in help_text
