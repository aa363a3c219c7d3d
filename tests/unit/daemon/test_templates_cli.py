"""``metad templates``: the report as text, and the commands' arguments and output.

Why: a report over more days than the message history keeps would look complete and
under-count; it must say so.
"""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from daemon.templates_cli import MAX_REPORT_DAYS, add_arguments, format_report


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
