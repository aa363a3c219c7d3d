"""``[storage.retention]``: defaults, and the minimums that keep pruning harmless.

Why these tests: a retention shorter than Meta's retry horizon would let a retried
webhook event apply twice, and one shorter than a budget month would raise an alert
twice; both must be refused at load time with the file, the line and the field.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_config
from config.model import (
    MESSAGE_HISTORY_MIN_DAYS,
    META_RETRY_DAYS,
    RetentionConfig,
    StorageConfig,
)

DEFAULT = Path(__file__).parents[3] / "metad.toml"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def errors(text: str) -> list[str]:
    Path("metad.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config("metad.toml")
    return str(info.value).splitlines()


def test_defaults_keep_dedup_past_meta_retries() -> None:
    r = StorageConfig().retention
    assert r == RetentionConfig()
    assert r.webhook_seen_days > META_RETRY_DAYS
    assert r.webhook_inbox_days > META_RETRY_DAYS
    assert r.budget_alerts_days >= 32
    assert r.webhook_handoff_days > 0
    assert r.messages_days >= MESSAGE_HISTORY_MIN_DAYS
    assert r.interval_s == 3600.0


def test_default_file_spells_the_defaults() -> None:
    """metad.toml documents the defaults; loading it gives the model's own."""
    assert load_config(DEFAULT).storage.retention == RetentionConfig()


def test_settings_are_read(in_tmp: Path) -> None:
    Path("metad.toml").write_text(
        "[storage.retention]\nwebhook_seen_days = 30\nwebhook_inbox_days = 7\n"
        "webhook_handoff_days = 1\nbudget_alerts_days = 400\ninterval_s = 600\n"
        "batch_rows = 1000\nmessages_days = 45\n",
        encoding="utf-8",
    )
    r = load_config("metad.toml").storage.retention
    assert (r.webhook_seen_days, r.webhook_inbox_days, r.webhook_handoff_days) == (30, 7, 1)
    assert (r.budget_alerts_days, r.interval_s, r.batch_rows) == (400, 600.0, 1000)
    assert r.messages_days == 45


def test_dedup_shorter_than_meta_retries_is_refused(in_tmp: Path) -> None:
    text = '[storage]\ndsn = ""\n\n[storage.retention]\nwebhook_seen_days = 6\n'
    (line,) = errors(text)
    assert line.startswith("metad.toml:5: storage.retention.webhook_seen_days: must be at least 7")
    assert "Meta retries a webhook for up to 7 days" in line


def test_inbox_shorter_than_meta_retries_is_refused(in_tmp: Path) -> None:
    (line,) = errors("[storage.retention]\nwebhook_inbox_days = 2\n")
    assert line.startswith("metad.toml:2: storage.retention.webhook_inbox_days: must be at least 7")


def test_budget_alerts_shorter_than_a_month_is_refused(in_tmp: Path) -> None:
    (line,) = errors("[storage.retention]\nbudget_alerts_days = 31\n")
    assert line.startswith(
        "metad.toml:2: storage.retention.budget_alerts_days: must be at least 32"
    )


def test_message_history_shorter_than_the_budget_replay_is_refused(in_tmp: Path) -> None:
    (line,) = errors("[storage.retention]\nmessages_days = 44\n")
    assert line.startswith("metad.toml:2: storage.retention.messages_days: must be at least 45")
    assert "replays the budget journal" in line


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("webhook_handoff_days", "0"),
        ("webhook_handoff_days", "-1"),
        ("webhook_seen_days", "-8"),
        ("interval_s", "0"),
        ("batch_rows", "0"),
    ],
)
def test_non_positive_values_are_refused(in_tmp: Path, key: str, value: str) -> None:
    (line,) = errors(f"[storage.retention]\n{key} = {value}\n")
    assert line.startswith(f"metad.toml:2: storage.retention.{key}: Input should be greater")


def test_fractional_days_and_unknown_keys_are_refused(in_tmp: Path) -> None:
    lines = errors("[storage.retention]\nwebhook_seen_days = 7.5\nwebhook_days = 9\n")
    assert lines[0].startswith("metad.toml:2: storage.retention.webhook_seen_days: Input should")
    assert lines[1].startswith("metad.toml:3: storage.retention.webhook_days: unknown key")


def test_every_problem_is_reported_at_once(in_tmp: Path) -> None:
    lines = errors(
        "[storage.retention]\nwebhook_seen_days = 1\nwebhook_inbox_days = 1\n"
        "budget_alerts_days = 1\n"
    )
    assert [line.split(": ")[1] for line in lines] == [
        "storage.retention.webhook_seen_days",
        "storage.retention.webhook_inbox_days",
        "storage.retention.budget_alerts_days",
    ]
