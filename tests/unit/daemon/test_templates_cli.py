"""``metad templates``: the report as text, and the commands' arguments and output.

Why: a report over more days than the message history keeps would look complete and
under-count; it must say so.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.templates.lint import has_errors, lint
from config import MetadConfig, parse_config
from daemon import templates_cli
from daemon.control import protocol
from daemon.graph.errors import GraphError
from daemon.graph.resources import TemplateCreated, TemplateInfo, TemplateSpec
from daemon.templates_cli import MAX_REPORT_DAYS, add_arguments, format_report, run


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="metad.toml")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metad templates")
    add_arguments(parser, _add_config)
    return parser


ROW = {
    "name": "shift_offer",
    "language": "pt_BR",
    "sent": 3,
    "delivered": 3,
    "read": 2,
    "replied": 1,
    "failed": 0,
    "read_rate": 2 / 3,
    "cost_usd": 0.1875,
    "failed_by_code": {},
}


def _result(days: int, kept_days: int | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "by": "template",
        "days": days,
        "rows": [ROW],
        "recommendations": [],
        "marketing_messages": {"total": {"sent": 0}},
    }
    if kept_days is not None:
        result["kept_days"] = kept_days
    return result


def test_rows_are_a_table() -> None:
    head, row = format_report(_result(7, 180)).splitlines()[:2]
    assert head.split()[:3] == ["TEMPLATE", "LANG", "SENT"]
    assert row.split()[:3] == ["shift_offer", "pt_BR", "3"]
    assert "67%" in row


def test_a_report_within_the_kept_history_has_no_note() -> None:
    assert "note:" not in format_report(_result(180, 180))
    assert "note:" not in format_report(_result(400, None))  # an older daemon's JSON


def test_a_report_past_the_kept_history_says_so() -> None:
    notes = [line for line in format_report(_result(400, 180)).splitlines() if "note:" in line]
    assert notes == [
        "note: messages are kept 180 days ([storage.retention] messages_days);"
        " the last 400 days are counted from what is left"
    ]


@pytest.mark.parametrize("days", ["0", "-5", str(MAX_REPORT_DAYS + 1), "999999999", "x"])
def test_report_days_out_of_range_is_a_usage_error(
    days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A negative period reported nothing as if all were well; a huge one overflowed the
    date arithmetic with a traceback."""
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["report", "--days", days])
    assert exited.value.code == 2
    assert "argument --days" in capsys.readouterr().err


@pytest.mark.parametrize("days", [1, 7, MAX_REPORT_DAYS])
def test_report_days_in_range(days: int) -> None:
    assert _parser().parse_args(["report", "--days", str(days)]).days == days


# --- create / edit / delete / list, against a stand-in for the Graph API ---------------

WABA = "100000000000001"
BODY = "Oi, seu plantão está confirmado para amanhã de manhã."


def _cfg(runtime_dir: Path) -> MetadConfig:
    return parse_config(
        f"""
[daemon]
runtime_dir = "{runtime_dir}"
[sandbox]
enabled = true
listen = "127.0.0.1:18189"
[[wabas]]
id = "{WABA}"
[[chips]]
phone_number_id = "200000000000001"
display_number = "+55 11 94000-0001"
waba = "{WABA}"
""",
        file="t.toml",
    )


def _template(name: str = "hello_world", category: str = "UTILITY") -> TemplateInfo:
    return TemplateInfo.model_validate(
        {
            "id": "900",
            "name": name,
            "language": "pt_BR",
            "status": "APPROVED",
            "category": category,
            "components": [{"type": "BODY", "text": BODY}],
        }
    )


class FakeGraph:
    """The Graph API calls ``metad templates`` makes; records what was submitted."""

    def __init__(self, *templates: TemplateInfo, fail: GraphError | None = None) -> None:
        self.templates = list(templates)
        self.fail = fail
        self.created: list[TemplateSpec] = []
        self.edited: list[dict[str, Any]] = []
        self.deleted: list[tuple[str, str | None]] = []

    async def __aenter__(self) -> FakeGraph:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def iter_templates(self, waba_id: str, **filters: str) -> AsyncIterator[TemplateInfo]:
        if self.fail is not None:
            raise self.fail
        for t in self.templates:
            if filters.get("name", t.name) == t.name:
                yield t

    async def create_template(self, waba_id: str, spec: TemplateSpec) -> TemplateCreated:
        self.created.append(spec)
        return TemplateCreated(id="901", status="PENDING", category=spec.category)

    async def edit_template(self, template_id: str, *, waba_id: str, **change: Any) -> None:
        self.edited.append(change)

    async def get_template(self, template_id: str, *, waba_id: str) -> TemplateInfo:
        return next(t for t in self.templates if t.id == template_id)

    async def delete_template(self, waba_id: str, name: str, *, hsm_id: str | None = None) -> None:
        self.deleted.append((name, hsm_id))


@pytest.fixture
def runtime_dir() -> Iterator[Path]:
    """Short enough for a Unix socket path (tmp_path may not be)."""
    path = Path(tempfile.mkdtemp(prefix="metad-t-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run(monkeypatch: pytest.MonkeyPatch, graph: FakeGraph, runtime_dir: Path, *argv: str) -> int:
    monkeypatch.setattr(templates_cli, "_graph", lambda cfg: graph)
    cfg = _cfg(runtime_dir)
    args = _parser().parse_args(list(argv))
    return run(args, load=lambda _: cfg, with_store=lambda *_: None)


def _write(directory: Path, defn: dict[str, Any], name: str = "e.json") -> str:
    path = directory / name
    path.write_text(json.dumps(defn))
    return str(path)


COMPONENT: dict[str, Any] = {"type": "BODY", "text": BODY}
DEFINITION: dict[str, Any] = {
    "name": "plantao_ok",
    "language": "pt_BR",
    "category": "UTILITY",
    "components": [COMPONENT],
}


def test_a_wrongly_typed_definition_is_one_line_per_field_not_pydantics_text() -> None:
    bad = {**DEFINITION, "components": [{"type": "body", "format": 5, "example": [1]}]}
    with pytest.raises(templates_cli._Refused) as refused:
        templates_cli._spec(bad, "e.json")
    assert refused.value.code == 2
    assert str(refused.value).splitlines() == [
        "e.json: components[0].format: must be a string",
        "e.json: components[0].example: must be an object",
    ]


def test_edit_of_a_wrongly_typed_file_is_refused_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
    runtime_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The operator's file: lint flags the type, nothing is submitted."""
    graph = FakeGraph(_template())
    path = _write(tmp_path, {"components": [{"type": "BODY", "format": 5, "text": BODY}]})
    code = _run(monkeypatch, graph, runtime_dir, "edit", "hello_world", path, "--waba", WABA)
    out, err = capsys.readouterr()
    assert code == 1
    assert "error: components[0].format: must be a string" in out
    assert err == f"metad templates: {path} has lint errors; not submitted\n"
    assert graph.edited == []


def _mutations() -> Iterator[Any]:
    """The definition with each field the creation body types set to each JSON type."""
    values: list[object] = [5, "", "x", [1], {"a": 1}, True, None]
    for key in (
        "name",
        "language",
        "category",
        "parameter_format",
        "components",
        "allow_category_change",
    ):
        for v in values:
            yield pytest.param({**DEFINITION, key: v}, id=f"{key}={v!r}")
    for key in ("type", "format", "text", "example", "buttons"):
        for v in values:
            comp = {**COMPONENT, key: v}
            yield pytest.param({**DEFINITION, "components": [comp]}, id=f"components.{key}={v!r}")


@pytest.mark.parametrize("defn", _mutations())
def test_lint_refuses_whatever_create_would(defn: dict[str, Any]) -> None:
    """Lint and create agree: a definition without lint errors is a valid creation body
    (else create fails after lint said it was fine)."""
    if not has_errors(lint(defn)):
        templates_cli._spec(defn, "e.json")


def test_create_json_is_only_json_with_the_warnings_inside(
    monkeypatch: pytest.MonkeyPatch,
    runtime_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    promo = "Oi, temos uma oferta de plantão para você amanhã de manhã."
    path = _write(tmp_path, {**DEFINITION, "components": [{"type": "BODY", "text": promo}]})
    code = _run(monkeypatch, FakeGraph(), runtime_dir, "create", path, "--json")
    out, _ = capsys.readouterr()
    assert code == 0
    answer = json.loads(out)
    assert (answer["id"], answer["status"], answer["waba_id"]) == ("901", "PENDING", WABA)
    assert [(f["severity"], f["field"]) for f in answer["findings"]] == [
        ("warning", "components[0].text")
    ]


def test_create_json_on_lint_errors_is_json_too(
    monkeypatch: pytest.MonkeyPatch,
    runtime_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    graph = FakeGraph()
    path = _write(tmp_path, {**DEFINITION, "components": [{"type": "BODY", "format": 5}]})
    code = _run(monkeypatch, graph, runtime_dir, "create", path, "--json")
    out, err = capsys.readouterr()
    assert code == 1
    answer = json.loads(out)
    assert (answer["file"], answer["submitted"]) == (path, False)
    assert {
        "severity": "error",
        "field": "components[0].format",
        "message": "must be a string",
    } in (answer["findings"])
    assert "has lint errors" in err
    assert graph.created == []


class ConnectError(Exception):
    """Stands for httpx's: only its name and text reach the operator."""


def test_no_answer_is_cannot_reach_with_the_sandbox_hint_not_meta_refused(
    monkeypatch: pytest.MonkeyPatch, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    down = GraphError.from_transport(
        ConnectError("all attempts to connect to 127.0.0.1:18189 failed"), sent=False
    )
    assert _run(monkeypatch, FakeGraph(fail=down), runtime_dir, "list") == 1
    assert capsys.readouterr().err.splitlines() == [
        "metad templates: cannot reach the Graph API at http://127.0.0.1:18189: "
        "ConnectError: all attempts to connect to 127.0.0.1:18189 failed",
        "metad templates: sandbox mode: `metad run` serves the simulator there; start it first",
    ]


def test_a_graph_error_answer_is_meta_refused(
    monkeypatch: pytest.MonkeyPatch, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = GraphError("Invalid parameter", http_status=400, code=100)
    assert _run(monkeypatch, FakeGraph(fail=refused), runtime_dir, "list") == 1
    assert capsys.readouterr().err == (
        "metad templates: Meta refused: (100) Invalid parameter [HTTP 400]\n"
    )


def test_an_answer_not_shaped_like_metas_is_unexpected(
    monkeypatch: pytest.MonkeyPatch, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = GraphError.from_response(502, b"<html>Bad Gateway</html>")
    assert _run(monkeypatch, FakeGraph(fail=proxy), runtime_dir, "list") == 1
    err = capsys.readouterr().err
    assert err.startswith("metad templates: unexpected answer from the Graph API at http://")
    assert "Meta refused" not in err


# --- after a change, a running daemon syncs its templates -------------------------------

Answer = Callable[["int | str | None"], bytes]


def _synced(request_id: int | str | None) -> bytes:
    return protocol.result_response(request_id, {WABA: 3})


async def _fake_daemon(
    path: Path,
    calls: list[str],
    answer: Answer = _synced,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A control socket that records each method called and answers it."""
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen()

    async def handle(stream: trio.SocketStream) -> None:
        decoder = protocol.LineDecoder()
        async for chunk in stream:
            for line in decoder.feed(bytes(chunk)):
                request = protocol.decode(line)
                assert isinstance(request, protocol.Request)
                calls.append(request.method)
                await stream.send_all(answer(request.id))

    task_status.started()
    await trio.serve_listeners(handle, [trio.SocketListener(sock)])


async def _managed(
    monkeypatch: pytest.MonkeyPatch, graph: FakeGraph, runtime_dir: Path, *argv: str
) -> int:
    monkeypatch.setattr(templates_cli, "_graph", lambda cfg: graph)
    return await templates_cli._managed(_parser().parse_args(list(argv)), _cfg(runtime_dir))


@pytest.mark.parametrize(
    "action",
    [
        ("delete", "hello_world"),
        ("edit", "hello_world", "{edit}"),  # to MARKETING: the category the chips check
        ("create", "{create}"),
    ],
)
async def test_a_change_has_the_running_daemon_sync(
    action: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    runtime_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Else it kept a deleted template (and sent to it: 132001) or an old category until
    `metad ctl templates sync` or a restart."""
    files = {
        "edit": _write(tmp_path, {"category": "MARKETING", "components": [COMPONENT]}, "e.json"),
        "create": _write(tmp_path, DEFINITION, "c.json"),
    }
    argv = [a.format(**files) for a in action]
    calls: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(_fake_daemon, runtime_dir / "metad.sock", calls)
        assert await _managed(monkeypatch, FakeGraph(_template()), runtime_dir, *argv) == 0
        nursery.cancel_scope.cancel()
    assert calls == ["templates.sync"]
    out = capsys.readouterr().out.splitlines()
    assert (
        out[-1] == f"the running daemon synced its templates from Meta (WABA {WABA}: 3 templates)"
    )


async def test_a_list_does_not_sync(
    monkeypatch: pytest.MonkeyPatch, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(_fake_daemon, runtime_dir / "metad.sock", calls)
        assert await _managed(monkeypatch, FakeGraph(_template()), runtime_dir, "list") == 0
        nursery.cancel_scope.cancel()
    assert calls == []


def test_without_a_daemon_nothing_is_said(
    monkeypatch: pytest.MonkeyPatch, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It syncs when it starts."""
    code = _run(monkeypatch, FakeGraph(_template()), runtime_dir, "delete", "hello_world")
    assert code == 0
    assert capsys.readouterr() == (f"deleted hello_world (every language) from WABA {WABA}\n", "")


async def test_a_daemon_that_cannot_sync_does_not_fail_the_change(
    monkeypatch: pytest.MonkeyPatch, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def unavailable(request_id: int | str | None) -> bytes:
        return protocol.error_response(request_id, protocol.UNAVAILABLE, "WABA actor stopping")

    calls: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(_fake_daemon, runtime_dir / "metad.sock", calls, unavailable)
        graph = FakeGraph(_template())
        assert await _managed(monkeypatch, graph, runtime_dir, "delete", "hello_world") == 0
        nursery.cancel_scope.cancel()
    assert graph.deleted == [("hello_world", None)]
    assert capsys.readouterr().err == (
        "metad templates: the running daemon could not sync its templates (WABA actor "
        "stopping); `metad ctl templates sync` updates it\n"
    )


async def test_with_json_the_sync_line_goes_to_stderr(
    monkeypatch: pytest.MonkeyPatch, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(_fake_daemon, runtime_dir / "metad.sock", calls)
        graph = FakeGraph(_template())
        argv = ("delete", "hello_world", "--json")
        assert await _managed(monkeypatch, graph, runtime_dir, *argv) == 0
        nursery.cancel_scope.cancel()
    out, err = capsys.readouterr()
    assert json.loads(out)["success"] is True
    assert err.startswith("metad templates: the running daemon synced its templates")


def test_the_cli_holds_days_to_the_store_reports_bound() -> None:
    from daemon.store.analytics import MAX_REPORT_DAYS as STORE_MAX

    assert MAX_REPORT_DAYS == STORE_MAX
