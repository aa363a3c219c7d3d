"""``metad campaign status`` as text: the table, then one line per thing an operator
must know about a campaign.

Why: the JSON form is for scripts; the text form is what an operator reads, and a line
that is missing (a message in doubt, figures that no longer come from the rows) is a
decision not taken.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from daemon.campaigns.cli import _remote, _stage, format_plan, run, skipped_text, status_text
from daemon.control.client import ControlError
from daemon.control.protocol import INVALID_PARAMS

ROW: dict[str, Any] = {
    "id": "shifts",
    "state": "running",
    "total": 10,
    "pending": 4,
    "sent": 6,
    "delivered": 5,
    "read": 2,
    "replied": 1,
    "failed": 0,
    "skipped": 0,
    "in_doubt": 1,
    "taps": 3,
    "cost_usd": 0.375,
    "eta_s": None,
}


def test_table_has_a_header_and_one_line_per_campaign() -> None:
    header, line = status_text([ROW, ROW | {"id": "other"}]).splitlines()[:2]
    assert header.split() == [
        "CAMPAIGN", "STATE", "TOTAL", "PENDING", "SENT", "DELIV", "READ", "REPLIED",
        "FAILED", "SKIPPED", "DOUBT", "TAPS", "COST", "$", "ETA",
    ]  # fmt: skip
    assert line.split() == [
        "shifts", "running", "10", "4", "6", "5", "2", "1", "0", "0", "1", "3", "0.375", "-",
    ]  # fmt: skip


def test_the_eta_reads_as_a_duration() -> None:
    line = status_text([ROW | {"eta_s": 39_957.0}]).splitlines()[1]
    assert line.split()[-3:] == ["11h", "05m", "57s"]


def test_a_quiet_campaign_has_no_notes() -> None:
    assert len(status_text([ROW]).splitlines()) == 2


def test_notes_follow_the_table() -> None:
    text = status_text(
        [
            ROW
            | {
                "reason": "budget cap reached",
                "waiting": "quiet hours until 08:00",
                "in_doubt_overdue": [{"recipient": "r7", "outbox_id": 42, "chip": "1"}],
                "history_pruned": True,
            }
        ]
    )
    assert text.splitlines()[2:] == [
        "shifts: budget cap reached",
        "shifts: waiting: quiet hours until 08:00",
        "shifts: in doubt: r7 (outbox 42)",
        "shifts: figures as frozen when its message history was pruned"
        " ([storage.retention] messages_days)",
    ]


def test_a_stage_line_replaces_the_previous_one_and_clears_at_the_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _stage("reading big.toml …")
    _stage("")
    assert capsys.readouterr() == ("", "\r\033[Kreading big.toml …\r\033[K\r")


def test_status_shows_the_template_problems_it_has() -> None:
    problems = {"100000000000002": "vaga_plantao/pt_BR is PENDING", "100000000000001": "x"}
    lines = status_text([ROW | {"template_problems": problems}]).splitlines()[2:]
    assert lines == [
        "shifts: WABA 100000000000001: x",
        "shifts: WABA 100000000000002: vaga_plantao/pt_BR is PENDING",
    ]


# --- plan -------------------------------------------------------------------------------------

PLAN: dict[str, Any] = {
    "campaign": "c1",
    "recipients": 9,
    "messages": 3,
    "valid": 2,
    "skipped": 7,
    "skipped_by_reason": {"bad number": 6, "no chip: x": 1},
    "free_in_window": 0,
    "need_template": 2,
    "by_category": {"marketing": {"messages": 2, "cost_usd": 0.125}},
    "estimated_cost_usd": 0.125,
    "unknown_price": 0,
    "by_chip": {"200000000000001": 2},
    "template_problems": {},
    "rate_per_s": 5.0,
    "cards": [],
    "listings": None,
    "send_seconds": 0.4,
    "expected_end": "2026-11-26T15:00",
    "budget_usd": None,
    "budget_notes": [],
}


def test_the_plan_header_counts_what_the_body_calls_valid() -> None:
    """It read "9 rows, 3 messages to send" over "valid 2" (the count before routing)."""
    head, valid = format_plan(PLAN).splitlines()[:2]
    assert head == "campaign c1: 9 rows, 2 messages to send"
    assert valid.split() == ["valid", "2"]


@pytest.mark.parametrize(
    ("listings", "cards", "line"),
    [
        pytest.param(
            {"used": 20, "closed": 0, "left_out": 5, "overflow": "split", "max_messages": 10},
            [2] * 10,
            "20 on cards, 0 not open, 5 left out (max_messages = 10)",
            id="beyond-max-messages",
        ),
        pytest.param(
            {"used": 2, "closed": 1, "left_out": 1, "overflow": "truncate", "max_messages": 3},
            [2],
            '2 on cards, 1 not open, 1 left out (overflow = "truncate": one carousel)',
            id="truncated",
        ),
        pytest.param(
            {"used": 4, "closed": 0, "left_out": 1, "overflow": "split", "max_messages": 3},
            [2, 2],
            "4 on cards, 0 not open, 1 left out (too few for another carousel of 2)",
            id="a-last-group-too-small",
        ),
        pytest.param(
            {"used": 4, "closed": 3, "left_out": 0, "overflow": "split", "max_messages": 3},
            [2, 2],
            "4 on cards, 3 not open",
            id="none-left-out",
        ),
    ],
)
def test_the_plan_says_what_became_of_the_listings(
    listings: dict[str, Any], cards: list[int], line: str
) -> None:
    text = format_plan(PLAN | {"cards": cards, "listings": listings})
    assert f"  listings: {line}" in text.splitlines()


def test_a_plan_without_a_carousel_has_no_listings_line() -> None:
    assert "listings" not in format_plan(PLAN)


def _skipped(n: int) -> list[dict[str, Any]]:
    return [
        {"row": i, "at": f"a.csv:{i + 1}", "phone": "12345", "reason": "bad number: '12345'"}
        for i in range(1, n + 1)
    ]


def test_skipped_rows_are_listed_with_where_phone_and_why() -> None:
    assert skipped_text(_skipped(2), 50).splitlines() == [
        "skipped rows:",
        "  AT       PHONE  REASON",
        "  a.csv:2  12345  bad number: '12345'",
        "  a.csv:3  12345  bad number: '12345'",
    ]


def test_the_skipped_list_is_bounded_unless_all_are_asked_for() -> None:
    lines = skipped_text(_skipped(53), 50).splitlines()
    assert len(lines) == 2 + 50 + 1
    assert lines[-1] == "  … 3 more (--skipped-all lists them all)"
    assert len(skipped_text(_skipped(53), None).splitlines()) == 2 + 53


def test_no_skipped_rows() -> None:
    assert skipped_text([], 50) == "skipped rows: none"


# --- over the socket ----------------------------------------------------------------------


class _Client:
    """The daemon's answers: ``campaign.resolve`` resolves nothing, ``campaign.status``
    knows only the campaign "shifts"."""

    def __init__(self, refuse: ControlError | None = None) -> None:
        self.refuse = refuse
        self.calls: list[str] = []

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        self.calls.append(method)
        if self.refuse is not None:
            raise self.refuse
        if method == "campaign.status" and params["name"] != "shifts":
            raise ControlError(-32000, f"no campaign {params['name']!r}")
        return {"resolved": False} if method == "campaign.resolve" else ROW


def _remote_with(monkeypatch: pytest.MonkeyPatch, client: _Client, *argv: str) -> int:
    @contextlib.asynccontextmanager
    async def connect(path: Path, **kw: Any) -> AsyncIterator[_Client]:
        yield client

    monkeypatch.setattr("daemon.control.client.connect", connect)
    args = argparse.Namespace(socket="s.sock", json=False, reason=None, config="-", timeout=None)
    command, *rest = argv
    args.campaign_command = command
    if command == "resolve":
        args.campaign, args.recipient, args.action = rest
    else:
        (args.campaign,) = rest
    return _remote(args)


def test_resolve_in_an_unknown_campaign_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _remote_with(monkeypatch, _Client(), "resolve", "nope", "X", "resend")
    assert (code, capsys.readouterr().err) == (1, "metad campaign: no campaign 'nope'\n")


def test_resolve_with_nothing_in_doubt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _remote_with(monkeypatch, _Client(), "resolve", "shifts", "X", "resend")
    assert (code, capsys.readouterr().err) == (1, "metad campaign: nothing in doubt for X\n")


def test_a_start_the_file_check_refuses_exits_2_with_its_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = 'c.toml:12: variables.2: unknown key "defualt"'
    client = _Client(refuse=ControlError(INVALID_PARAMS, problem))
    code = _remote_with(monkeypatch, client, "start", "c")
    assert (code, capsys.readouterr().err) == (2, problem + "\n")


@pytest.mark.parametrize(("command", "timeout"), [("status", 10.0), ("start", 70.0)])
def test_actions_the_daemon_runs_read_no_config_and_give_up_in_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str, timeout: float
) -> None:
    """As ``metad ctl``: a config being edited (here with a bad budget) does not lock the
    operator out of a running campaign, and a daemon that does not answer is given up
    on (start stores every recipient: it gets longer)."""
    seen: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def connect(path: Path, **kw: Any) -> AsyncIterator[_Client]:
        seen.update(path=path, **kw)
        yield _Client()

    def load(config: str) -> Any:
        raise AssertionError(f"{config} was read")

    monkeypatch.setattr("daemon.control.client.connect", connect)
    config = tmp_path / "metad.toml"
    config.write_text('[daemon]\nruntime_dir = "run"\n[budget]\nweekly_usd = -1\n')
    args = argparse.Namespace(
        config=str(config),
        socket=None,
        timeout=None,
        json=True,
        reason=None,
        campaign_command=command,
        campaign="shifts",
    )
    assert run(args, load, with_store=cast(Any, None)) == 0
    assert seen == {"path": tmp_path / "run" / "metad.sock", "timeout": timeout}
