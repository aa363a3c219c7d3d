"""Campaign files: what parses, where paths point, and every error as file:line: field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from config.campaign import CampaignSpec, TemplateChoice, load_campaign, parse_campaign
from config.errors import ConfigError, ConfigIssue

FILE = "campaigns/c.toml"

# The smallest valid campaign; error cases append to it or replace parts of it.
HEAD = 'name = "c"\n'
INLINE = '[audience]\ninline = [{ phone = "5511987654321" }]\n'
TEMPLATE = '[[templates]]\nname = "vaga_plantao"\n'
MINIMAL = HEAD + INLINE + TEMPLATE

FULL = """\
name = "plantoes-dezembro"
description = "Plantões de dezembro"
intent = "marketing"

[audience]
file = "data/doctors.csv"
phone_column = "telefone"
opt_out_column = "opt_out"
key_column = "crm"

[[templates]]
waba = "*"
name = "vaga_plantao"
language = "pt_BR"

[[templates]]
waba = "100000000000002"
name = "vaga_plantao_b"
language = "pt_BR"

[variables]
"1" = { column = "primeiro_nome", aliases = ["nome"], default = "doutor(a)" }
"2" = "especialidade"

[carousel]
listings = "shifts.csv"
id_column = "vaga_id"
status_column = "status"
overflow = "split"
max_messages = 2
[carousel.cards]
header = "imagem_url"
"1" = "hospital"

[schedule]
start = 2026-12-01T08:00:00
end = 2026-12-20T20:00:00
weekdays = ["mon", "tue", "wed", "thu", "fri"]
hours = "08:00-20:00"
quiet_hours = ["12:00-13:30"]

[limits]
rate_per_s = 20
budget_usd = 150.0

[routing]
wabas = ["100000000000001"]
strategy = "best_quality"
"""


def _parse(text: str, base: Path) -> CampaignSpec:
    return parse_campaign(text, file=FILE, base_dir=base)


def _issues(text: str, base: Path) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        _parse(text, base)
    return caught.value.issues


def _line_of(text: str, needle: str) -> int:
    """1-based line of the first line of ``text`` that starts with ``needle``."""
    for i, line in enumerate(text.splitlines(), start=1):
        if line.startswith(needle):
            return i
    raise AssertionError(f"{needle!r} not in the text")


# --- a valid file ----------------------------------------------------------------------


@pytest.fixture
def campaign_dir(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "doctors.csv").write_text("crm,telefone\n1,5511987654321\n")
    (tmp_path / "shifts.csv").write_text("vaga_id,status\nV1,aberta\n")
    (tmp_path / "c.toml").write_text(FULL, encoding="utf-8")
    return tmp_path


def test_a_full_file_parses_with_paths_anchored_at_its_directory(campaign_dir: Path) -> None:
    spec = load_campaign(campaign_dir / "c.toml")
    assert spec.name == "plantoes-dezembro"
    assert spec.audience.file == campaign_dir / "data" / "doctors.csv"
    assert spec.audience.file.is_absolute()
    assert spec.carousel is not None
    assert spec.carousel.listings == campaign_dir / "shifts.csv"
    assert spec.audience.phone_column == "telefone"
    assert spec.audience.key_column == "crm"
    assert [t.name for t in spec.templates] == ["vaga_plantao", "vaga_plantao_b"]
    assert spec.variables["2"] == "especialidade"
    assert spec.carousel.overflow == "split"
    assert spec.carousel.max_messages == 2
    assert spec.carousel.cards == {"header": "imagem_url", "1": "hospital"}
    assert spec.schedule.start == dt.datetime(2026, 12, 1, 8, 0)
    assert spec.schedule.weekdays == ["mon", "tue", "wed", "thu", "fri"]
    assert spec.schedule.quiet_hours == ["12:00-13:30"]
    assert spec.limits.rate_per_s == 20
    assert spec.limits.budget_usd == 150.0
    assert spec.routing.strategy == "best_quality"


def test_a_relative_load_path_is_anchored_at_the_files_directory(
    campaign_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(campaign_dir.parent)
    spec = load_campaign(Path(campaign_dir.name) / "c.toml")
    assert spec.audience.file == campaign_dir / "data" / "doctors.csv"


def test_an_absolute_path_inside_the_file_is_kept(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    audience = elsewhere / "a.csv"
    audience.write_text("phone\n5511987654321\n")
    text = HEAD + f'[audience]\nfile = "{audience}"\n' + TEMPLATE
    spec = _parse(text, tmp_path / "campaigns")
    assert spec.audience.file == audience


def test_the_defaults_of_a_minimal_file(tmp_path: Path) -> None:
    spec = _parse(MINIMAL, tmp_path)
    assert spec.intent == "marketing"
    assert spec.audience.file is None
    assert spec.audience.inline == [{"phone": "5511987654321"}]
    assert spec.templates == [TemplateChoice(waba="*", name="vaga_plantao", language="pt_BR")]
    assert spec.schedule.hours == "00:00-24:00"
    assert spec.schedule.weekdays == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert spec.schedule.start is None
    assert spec.schedule.end is None
    assert spec.limits.rate_per_s == 20.0
    assert spec.limits.budget_usd is None
    assert spec.routing.strategy == "affinity"
    assert spec.routing.wabas == []
    assert spec.carousel is None


@pytest.mark.parametrize("hours", ["00:00-24:00", "08:00-20:00", "23:00-23:59", "00:00-00:01"])
def test_valid_hours(tmp_path: Path, hours: str) -> None:
    spec = _parse(MINIMAL + f'[schedule]\nhours = "{hours}"\n', tmp_path)
    assert spec.schedule.hours == hours


# --- errors: file, line, field --------------------------------------------------------

SCHEDULE = "[schedule]\n"

ERRORS = [
    pytest.param(
        HEAD + "colour = 1\n" + INLINE + TEMPLATE,
        "colour = 1",
        "colour",
        "unknown key",
        id="unknown-top-level-key",
    ),
    pytest.param(
        HEAD + INLINE + 'phone_col = "x"\n' + TEMPLATE,
        "phone_col",
        "audience.phone_col",
        "unknown key",
        id="unknown-key-in-a-table",
    ),
    pytest.param(
        'name = "Plantões Dezembro"\n' + INLINE + TEMPLATE,
        "name =",
        "name",
        "pattern",
        id="name-with-capitals-and-spaces",
    ),
    pytest.param(
        'name = "-c"\n' + INLINE + TEMPLATE,
        "name =",
        "name",
        "pattern",
        id="name-starting-with-a-dash",
    ),
    pytest.param(
        f'name = "{"a" * 64}"\n' + INLINE + TEMPLATE,
        "name =",
        "name",
        "pattern",
        id="name-too-long",
    ),
    pytest.param(
        MINIMAL + SCHEDULE + 'hours = "25:00-26:00"\n',
        "hours",
        "schedule.hours",
        '"25:00-26:00" is not HH:MM-HH:MM',
        id="hours-out-of-range",
    ),
    pytest.param(
        MINIMAL + SCHEDULE + 'hours = "20:00-08:00"\n',
        "hours",
        "schedule.hours",
        "the end must be after the start",
        id="hours-ending-before-they-start",
    ),
    pytest.param(
        MINIMAL + SCHEDULE + 'hours = "08:00-24:30"\n',
        "hours",
        "schedule.hours",
        "the day ends at 24:00",
        id="hours-past-midnight",
    ),
    pytest.param(
        MINIMAL + SCHEDULE + 'quiet_hours = ["12:00-11:00"]\n',
        "quiet_hours",
        "schedule.quiet_hours",
        "the end must be after the start",
        id="quiet-hours-backwards",
    ),
    pytest.param(
        MINIMAL + SCHEDULE + "start = 2026-12-02T08:00:00\nend = 2026-12-01T08:00:00\n",
        "[schedule]",
        "schedule",
        "end must be after start",
        id="end-before-start",
    ),
    pytest.param(
        MINIMAL + SCHEDULE + "start = 2026-12-02T08:00:00\nend = 2026-12-02T08:00:00\n",
        "[schedule]",
        "schedule",
        "end must be after start",
        id="end-equal-to-start",
    ),
    pytest.param(
        MINIMAL + SCHEDULE + "weekdays = []\n",
        "[schedule]",
        "schedule",
        "weekdays is empty",
        id="no-weekdays",
    ),
    pytest.param(
        MINIMAL + SCHEDULE + 'quiet_hours = ["00:00-24:00"]\n',
        "quiet_hours",
        "schedule.quiet_hours",
        'quiet hours cover all of hours "00:00-24:00": the campaign could never send',
        id="quiet-all-day",
    ),
    pytest.param(
        MINIMAL
        + SCHEDULE
        + 'hours = "08:00-20:00"\nquiet_hours = ["07:00-12:00", "11:30-20:00"]\n',
        "quiet_hours",
        "schedule.quiet_hours",
        'quiet hours cover all of hours "08:00-20:00"',
        id="quiet-spans-covering-the-hours-together",
    ),
    pytest.param(
        MINIMAL + '[variables]\n"1" = "nome"\n"2" = { column = "esp", defualt = "Clínica" }\n',
        '"2"',
        "variables.2",
        'unknown key "defualt" (a slot takes column, aliases, default)',
        id="unknown-key-in-a-variable",
    ),
    pytest.param(
        MINIMAL + '[variables]\n"1" = { column = "nome", aliases = "primeiro_nome" }\n',
        '"1"',
        "variables.1",
        "aliases must be a list of column names",
        id="aliases-not-a-list",
    ),
    pytest.param(
        MINIMAL + '[variables]\n"1" = { column = "nome", default = " " }\n',
        '"1"',
        "variables.1",
        "default must be a text that is not blank",
        id="blank-default",
    ),
    pytest.param(
        MINIMAL + '[variables]\n"1" = ""\n',
        '"1"',
        "variables.1",
        "the column name is empty",
        id="empty-column",
    ),
    pytest.param(
        MINIMAL + SCHEDULE + 'weekdays = ["mon", "sab"]\n',
        "weekdays",
        "schedule.weekdays[1]",
        "",
        id="unknown-weekday",
    ),
    pytest.param(
        HEAD + '[audience]\nfile = "a.csv"\ninline = [{ phone = "1" }]\n' + TEMPLATE,
        "[audience]",
        "audience",
        "give either file or inline (exactly one)",
        id="audience-with-file-and-inline",
    ),
    pytest.param(
        HEAD + '[audience]\nphone_column = "telefone"\n' + TEMPLATE,
        "[audience]",
        "audience",
        "give either file or inline (exactly one)",
        id="audience-with-neither",
    ),
    pytest.param(
        HEAD + "[audience]\ninline = []\n" + TEMPLATE,
        "[audience]",
        "audience",
        "give either file or inline (exactly one)",
        id="audience-with-an-empty-inline-list",
    ),
    pytest.param(
        HEAD + INLINE,
        "name =",
        "templates",
        "",
        id="no-templates",
    ),
    pytest.param(
        MINIMAL + "[limits]\nrate_per_s = 0\n",
        "rate_per_s",
        "limits.rate_per_s",
        "",
        id="rate-zero",
    ),
    pytest.param(
        MINIMAL + '[routing]\nstrategy = "random"\n',
        "strategy",
        "routing.strategy",
        "",
        id="unknown-strategy",
    ),
]


@pytest.mark.parametrize(("text", "line_starts", "field", "message"), ERRORS)
def test_an_error_names_file_line_and_field(
    tmp_path: Path, text: str, line_starts: str, field: str, message: str
) -> None:
    issues = _issues(text, tmp_path)
    assert len(issues) == 1, issues
    issue = issues[0]
    assert issue.file == FILE
    assert issue.field == field
    assert issue.line == _line_of(text, line_starts)
    assert message in issue.message
    assert str(issue).startswith(f"{FILE}:{issue.line}: {field}: ")


@pytest.mark.parametrize(
    "quiet", [[], ["12:00-13:30"], ["00:00-08:00", "20:00-24:00"], ["07:00-08:00", "08:01-21:00"]]
)
def test_quiet_hours_that_leave_some_of_the_hours_open(tmp_path: Path, quiet: list[str]) -> None:
    spans = ", ".join(f'"{q}"' for q in quiet)
    text = MINIMAL + SCHEDULE + f'hours = "08:00-20:00"\nquiet_hours = [{spans}]\n'
    assert _parse(text, tmp_path).schedule.quiet_hours == quiet


def test_quiet_hours_are_not_checked_against_hours_that_are_wrong(tmp_path: Path) -> None:
    text = MINIMAL + SCHEDULE + 'hours = "25:00-26:00"\nquiet_hours = ["00:00-24:00"]\n'
    assert [i.field for i in _issues(text, tmp_path)] == ["schedule.hours"]


def test_an_unknown_key_in_a_card_slot_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "l.csv").write_text("id,img\nV1,https://x\n")
    cards = '[carousel.cards]\nheader = { colum = "img" }\n'
    text = MINIMAL + '[carousel]\nlistings = "l.csv"\n' + cards
    (issue,) = _issues(text, tmp_path)
    assert (issue.line, issue.field) == (_line_of(text, "header"), "carousel.cards.header")
    assert issue.message == 'unknown key "colum" (a slot takes column, aliases, default)'


def test_every_problem_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = (
        'name = "Bad Name"\n'
        + INLINE
        + TEMPLATE
        + SCHEDULE
        + 'hours = "25:00-26:00"\n'
        + "[limits]\nrate_per_s = -1\n"
    )
    issues = _issues(text, tmp_path)
    assert [i.field for i in issues] == ["name", "schedule.hours", "limits.rate_per_s"]
    assert [i.line for i in issues] == sorted(i.line or 0 for i in issues)


def test_a_missing_audience_file_names_its_line_and_absolute_path(tmp_path: Path) -> None:
    text = HEAD + '[audience]\nfile = "nope.csv"\n' + TEMPLATE
    (issue,) = _issues(text, tmp_path)
    assert (issue.file, issue.line, issue.field) == (FILE, 3, "audience.file")
    assert issue.message == f"no such file: {tmp_path / 'nope.csv'}"


def test_a_missing_listings_file_names_its_line(tmp_path: Path) -> None:
    text = MINIMAL + '[carousel]\nlistings = "shifts.csv"\n'
    (issue,) = _issues(text, tmp_path)
    assert (issue.line, issue.field) == (_line_of(text, "listings"), "carousel.listings")
    assert issue.message == f"no such file: {tmp_path / 'shifts.csv'}"


def test_missing_audience_and_listings_files_are_reported_together(tmp_path: Path) -> None:
    text = HEAD + '[audience]\nfile = "a.csv"\n' + TEMPLATE + '[carousel]\nlistings = "l.csv"\n'
    issues = _issues(text, tmp_path)
    assert [i.field for i in issues] == ["audience.file", "carousel.listings"]


def test_an_audience_path_naming_a_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    (issue,) = _issues(HEAD + '[audience]\nfile = "dir.csv"\n' + TEMPLATE, tmp_path)
    assert issue.field == "audience.file"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param('name = "c"\n[audience\ninline = 1\n', 2, id="unclosed-table"),
        pytest.param('name = "c"\nname = "d"\n', 2, id="duplicate-key"),
        pytest.param('name = "c\n', 1, id="unterminated-string"),
    ],
)
def test_bad_toml_syntax_names_the_line(tmp_path: Path, text: str, line: int) -> None:
    (issue,) = _issues(text, tmp_path)
    assert (issue.file, issue.line, issue.field) == (FILE, line, "")
    assert issue.message.startswith("invalid TOML: ")


def test_an_unreadable_file_is_a_config_error_without_a_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_campaign(tmp_path / "absent.toml")
    (issue,) = caught.value.issues
    assert issue.file == str(tmp_path / "absent.toml")
    assert issue.line is None
    assert issue.message.startswith("cannot read")


def test_a_naive_start_with_an_offset_end_is_checked_not_crashed(tmp_path: Path) -> None:
    # TOML allows a local datetime next to an offset one; both are valid on their own.
    text = MINIMAL + SCHEDULE + "start = 2026-12-02T08:00:00\nend = 2026-12-01T08:00:00-03:00\n"
    (issue,) = _issues(text, tmp_path)
    assert issue.field == "schedule"


# --- template_for ------------------------------------------------------------------------


def _spec_with(templates: list[tuple[str, str]], tmp_path: Path) -> CampaignSpec:
    blocks = "".join(f'[[templates]]\nwaba = "{w}"\nname = "{n}"\n' for w, n in templates)
    return _parse(HEAD + INLINE + blocks, tmp_path)


@pytest.mark.parametrize(
    ("templates", "waba", "expected"),
    [
        pytest.param([("*", "any")], "w1", "any", id="wildcard-only"),
        pytest.param([("*", "any"), ("w1", "mine")], "w1", "mine", id="exact-after-wildcard"),
        pytest.param([("w1", "mine"), ("*", "any")], "w1", "mine", id="exact-before-wildcard"),
        pytest.param([("*", "any"), ("w1", "mine")], "w2", "any", id="other-waba-gets-wildcard"),
        pytest.param([("w1", "mine")], "w2", None, id="no-match-no-wildcard"),
        pytest.param([("w1", "first"), ("w1", "second")], "w1", "first", id="first-exact-wins"),
        pytest.param([("*", "first"), ("*", "second")], "w9", "first", id="first-wildcard-wins"),
    ],
)
def test_template_for_prefers_the_exact_waba(
    tmp_path: Path, templates: list[tuple[str, str]], waba: str, expected: str | None
) -> None:
    choice = _spec_with(templates, tmp_path).template_for(waba)
    assert (choice.name if choice else None) == expected
