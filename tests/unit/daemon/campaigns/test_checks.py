"""What keeps a campaign from ever sending, found before it is stored: the pool's ids, the
schedule from now, the template in every WABA of the pool."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from actors.campaign.content import CampaignTemplate
from actors.ports import TemplateRecord
from config.campaign import CampaignSpec, parse_campaign
from config.errors import ConfigIssue, ConfigSource
from daemon.campaigns.checks import (
    Unusable,
    Waiting,
    pool_issues,
    refusal,
    schedule_issues,
    template_verdict,
    verdict_note,
)

SP = ZoneInfo("America/Sao_Paulo")
W1, W2 = "100000000000001", "100000000000002"
CHIPS = [("200000000000001", W1), ("200000000000002", W1), ("200000000000003", W2)]
FILE = "c.toml"
HEAD = """\
name = "c"
[audience]
inline = [{ phone = "5511987654321", nome = "Ana", esp = "Pediatria" }]
"""


def template(name: str = "vaga_plantao", **kw: Any) -> str:
    rows = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in kw.items())
    return f'[[templates]]\nname = "{name}"\n{rows}'


def load(text: str, tmp_path: Path) -> tuple[CampaignSpec, ConfigSource]:
    (tmp_path / "l.csv").write_text("vaga_id,hospital,img\nV1,H,https://x\n")
    spec = parse_campaign(text, file=FILE, base_dir=tmp_path)
    return spec, ConfigSource(file=FILE, path=tmp_path / FILE, text=text)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(needle))


def rec(name: str, components: list[dict[str, Any]], **kw: Any) -> TemplateRecord:
    return TemplateRecord(
        waba_id=kw.pop("waba", W1),
        name=name,
        language=kw.pop("language", "pt_BR"),
        category=kw.pop("category", "MARKETING"),
        status=kw.pop("status", "APPROVED"),
        parameter_format=kw.pop("parameter_format", "POSITIONAL"),
        components=tuple(components),
    )


QUICK = {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Aceitar"}]}
VAGA = rec(
    "vaga_plantao",
    [{"type": "BODY", "text": "Olá {{1}}, temos um plantão em {{2}} para você."}, QUICK],
)
LEMBRETE = rec(
    "lembrete_plantao",
    [
        {"type": "BODY", "text": "Oi {{nome}}, seu plantão é em {{data}}. Até lá!"},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "URL", "text": "Ver", "url": "https://example.com/p/{{1}}"}],
        },
    ],
    parameter_format="NAMED",
    category="UTILITY",
)
CARD = [
    {"type": "HEADER", "format": "IMAGE"},
    {"type": "BODY", "text": "Plantão em {{1}}."},
    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Quero"}]},
]
CARROSSEL = rec(
    "carrossel_vagas",
    [
        {"type": "BODY", "text": "Vagas da semana para você, {{1}}."},
        {"type": "CAROUSEL", "cards": [{"components": CARD}, {"components": CARD}]},
    ],
)
RECORDS = [VAGA, LEMBRETE, CARROSSEL, rec("hello_world", [], language="en_US")]
COLUMNS = ("phone", "nome", "esp")


def verdict(
    text: str, tmp_path: Path, records: list[TemplateRecord] = RECORDS, waba: str = W1
) -> Any:
    spec, source = load(text, tmp_path)
    return template_verdict(
        spec, waba, records, columns=COLUMNS, card_columns=("vaga_id", "hospital", "img"),
        source=source,
    )  # fmt: skip


def only_issue(v: Any) -> ConfigIssue:
    assert isinstance(v, Unusable), v
    (issue,) = v.issues
    return issue


# --- the template, per WABA ----------------------------------------------------------------

VARS = '[variables]\n"1" = "nome"\n"2" = "esp"\n'


def test_a_usable_template(tmp_path: Path) -> None:
    v = verdict(HEAD + template() + VARS, tmp_path)
    assert isinstance(v, CampaignTemplate)
    assert (v.name, v.category) == ("vaga_plantao", "marketing")
    assert verdict_note(v) is None


def test_a_template_no_synced_one_is_named_like(tmp_path: Path) -> None:
    text = HEAD + template("nao_existe") + VARS
    issue = only_issue(verdict(text, tmp_path))
    assert (issue.line, issue.field) == (line_of(text, 'name = "nao_existe"'), "templates[0].name")
    assert issue.message == (
        'no template "nao_existe" among the synced ones'
        " (created since the last sync? run `metad ctl templates sync`)"
    )


def test_a_misspelt_template_gets_a_suggestion(tmp_path: Path) -> None:
    issue = only_issue(verdict(HEAD + template("vaga_plantoa") + VARS, tmp_path))
    assert 'did you mean "vaga_plantao"?' in issue.message


def test_a_template_in_another_language(tmp_path: Path) -> None:
    text = HEAD + template("hello_world") + VARS
    issue = only_issue(verdict(text, tmp_path))
    assert issue.field == "templates[0].language"
    assert issue.message == "hello_world has no pt_BR version (it has en_US)"


def test_a_slot_the_template_lacks(tmp_path: Path) -> None:
    text = HEAD + template() + VARS + '"3" = "nome"\n'
    issue = only_issue(verdict(text, tmp_path))
    assert (issue.line, issue.field) == (line_of(text, '"3"'), "variables.3")
    assert issue.message == 'vaga_plantao/pt_BR has no slot "3" (its slots: 1, 2, button.0)'


def test_an_unmapped_url_button_is_named(tmp_path: Path) -> None:
    """It used to skip everyone as "missing variable", naming no slot."""
    text = HEAD + template("lembrete_plantao") + '[variables]\ndata = "esp"\n'
    issue = only_issue(verdict(text, tmp_path))
    assert (issue.line, issue.field) == (line_of(text, "[variables]"), 'variables."button.0"')
    assert issue.message == (
        "lembrete_plantao/pt_BR needs a value for its URL button 0: map it to a column"
        ' (none is named "button.0"; the columns: phone, nome, esp)'
    )


def test_a_slot_read_from_a_column_of_its_name_or_alias_needs_no_mapping(tmp_path: Path) -> None:
    text = HEAD + template("lembrete_plantao") + '[variables]\n"button.0" = "esp"\n'
    # nome: its own column; data: no column, no alias
    (issue,) = verdict(text, tmp_path).issues
    assert issue.field == "variables.data"
    assert "needs a value for its body variable data" in issue.message


def test_unknown_columns_are_not_checked(tmp_path: Path) -> None:
    spec, source = load(HEAD + template("lembrete_plantao"), tmp_path)
    v = template_verdict(spec, W1, RECORDS, columns=(), card_columns=(), source=source)
    assert isinstance(v, CampaignTemplate)


def test_a_carousel_template_without_a_carousel(tmp_path: Path) -> None:
    text = HEAD + template("carrossel_vagas") + '[variables]\n"1" = "nome"\n'
    issue = only_issue(verdict(text, tmp_path))
    assert issue.field == "templates[0].name"
    assert issue.message.startswith("carrossel_vagas/pt_BR is a carousel: the campaign needs")


def test_card_slots(tmp_path: Path) -> None:
    carousel = (
        '[carousel]\nlistings = "l.csv"\nid_column = "vaga_id"\n'
        '[carousel.cards]\n"1" = "hospital"\n"2" = "hospital"\n'
    )
    text = HEAD + template("carrossel_vagas") + '[variables]\n"1" = "nome"\n' + carousel
    issues = verdict(text, tmp_path).issues
    assert [(i.field, i.message.split(":")[0]) for i in issues] == [
        ("carousel.cards.2", 'carrossel_vagas/pt_BR has no slot "2" (its slots'),
        ("carousel.cards.header", "carrossel_vagas/pt_BR needs a value for its header"),
    ]


@pytest.mark.parametrize(
    ("status", "note"),
    [
        ("PENDING", "vaga_plantao/pt_BR is PENDING (in Meta's review: the campaign waits for it)"),
        ("PAUSED", "vaga_plantao/pt_BR is PAUSED"),
    ],
)
def test_a_template_not_approved_is_waited_for(tmp_path: Path, status: str, note: str) -> None:
    records = [rec(VAGA.name, list(VAGA.components), status=status)]
    v = verdict(HEAD + template() + VARS, tmp_path, records)
    assert v == Waiting(note)
    assert verdict_note(v) == note


def test_a_waba_with_nothing_synced_is_waited_for(tmp_path: Path) -> None:
    v = verdict(HEAD + template("nao_existe") + VARS, tmp_path, [])
    assert v == Waiting("no templates synced for this WABA yet: run `metad ctl templates sync`")


def test_a_waba_the_templates_do_not_cover(tmp_path: Path) -> None:
    text = HEAD + template(waba=W2) + VARS
    issue = only_issue(verdict(text, tmp_path))
    assert issue.field == "templates"
    assert issue.message == f'no [[templates]] entry for WABA {W1} nor "*"'


# --- refusal: only when no WABA of the pool could ever send -----------------------------------


def _issue(field: str, line: int = 1) -> ConfigIssue:
    return ConfigIssue(FILE, line, field, "x")


def test_refused_when_every_waba_is_unusable_and_shared_issues_come_once() -> None:
    a, b = _issue("variables.3", 9), _issue("templates[0].name", 4)
    verdicts: dict[str, Any] = {W1: Unusable((a, b)), W2: Unusable((a,))}
    assert refusal(verdicts) == [b, a]


@pytest.mark.parametrize(
    "other", [Waiting("no templates synced"), "usable"], ids=["waiting", "usable"]
)
def test_not_refused_when_one_waba_may_send(other: Any) -> None:
    assert refusal({W1: Unusable((_issue("variables.3"),)), W2: other}) == []


def test_an_unusable_wabas_note_names_its_fields() -> None:
    v = Unusable((_issue("variables.3"), _issue("templates[0].name")))
    assert verdict_note(v) == "variables.3: x; templates[0].name: x"


# --- the pool ---------------------------------------------------------------------------------


def pool(text: str, tmp_path: Path) -> list[ConfigIssue]:
    spec, source = load(text, tmp_path)
    return pool_issues(spec, chips=CHIPS, wabas=[W1, W2], source=source)


def test_an_unknown_chip_is_named_with_its_line(tmp_path: Path) -> None:
    text = HEAD + template() + '[routing]\nchips = ["200000000000001",\n  "nope"]\n'
    (issue,) = pool(text, tmp_path)
    assert (issue.line, issue.field) == (line_of(text, '  "nope"'), "routing.chips[1]")
    assert issue.message == (
        'unknown chip "nope" (configured: 200000000000001, 200000000000002, 200000000000003)'
    )


def test_unknown_wabas_in_routing_and_templates(tmp_path: Path) -> None:
    text = HEAD + template(waba="100000000000009") + '[routing]\nwabas = ["x"]\n'
    issues = pool(text, tmp_path)
    assert [(i.line, i.field, i.message) for i in issues] == [
        (
            line_of(text, "wabas"),
            "routing.wabas[0]",
            f'unknown WABA "x" (configured: {W1}, {W2})',
        ),
        (
            line_of(text, 'waba = "1'),
            "templates[0].waba",
            f'unknown WABA "100000000000009" (configured: {W1}, {W2})',
        ),
    ]


def test_known_chips_outside_the_wabas_leave_the_pool_empty(tmp_path: Path) -> None:
    text = HEAD + template() + f'[routing]\nwabas = ["{W2}"]\nchips = ["200000000000001"]\n'
    (issue,) = pool(text, tmp_path)
    assert (issue.line, issue.field) == (line_of(text, "[routing]"), "routing")
    assert issue.message.startswith("no chip of this daemon is in the pool")


def test_a_good_pool(tmp_path: Path) -> None:
    text = HEAD + template(waba=W2) + '[routing]\nchips = ["200000000000003"]\n'
    assert pool(text, tmp_path) == []


# --- the schedule ----------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 26, 18, 0, tzinfo=dt.UTC)


def schedule(body: str, tmp_path: Path, now: dt.datetime = NOW) -> list[ConfigIssue]:
    spec, source = load(HEAD + template() + "[schedule]\n" + body, tmp_path)
    return schedule_issues(spec, now=now, tz=SP, source=source)


def test_an_end_already_past(tmp_path: Path) -> None:
    body = "start = 2026-11-20T09:00:00\nend = 2026-11-21T10:00:00\n"
    (issue,) = schedule(body, tmp_path)
    assert issue.field == "schedule.end"
    assert issue.message == "2026-11-21T10:00 is past: the campaign could never send"


def test_the_same_schedule_before_its_end_is_fine(tmp_path: Path) -> None:
    body = "start = 2026-11-20T09:00:00\nend = 2026-11-21T10:00:00\n"
    assert schedule(body, tmp_path, now=dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)) == []


def test_weekdays_that_fall_nowhere_between_start_and_end(tmp_path: Path) -> None:
    # Tuesday 1 to Thursday 3 December, Saturdays only.
    body = 'start = 2026-12-01T08:00:00\nend = 2026-12-03T20:00:00\nweekdays = ["sat"]\n'
    (issue,) = schedule(body, tmp_path)
    assert issue.field == "schedule"
    assert issue.message.endswith("the campaign could never send")


@pytest.mark.parametrize(
    "body",
    ["", 'hours = "08:00-09:00"\nweekdays = ["sun"]\n', "start = 2027-03-01T08:00:00\n"],
    ids=["always", "an-hour-on-sundays", "months-ahead"],
)
def test_schedules_that_will_send(tmp_path: Path, body: str) -> None:
    assert schedule(body, tmp_path) == []
