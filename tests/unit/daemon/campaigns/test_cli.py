"""``metad campaign status`` as text: the table, then one line per thing an operator
must know about a campaign.

Why: the JSON form is for scripts; the text form is what an operator reads, and a line
that is missing (a message in doubt, figures that no longer come from the rows) is a
decision not taken.
"""

from __future__ import annotations

from typing import Any

import pytest

from daemon.campaigns.cli import _stage, status_text

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
