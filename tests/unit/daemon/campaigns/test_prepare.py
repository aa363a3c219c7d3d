"""A checked campaign + its data files → the recipients to store; reading those files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError
from config.campaign import CampaignSpec
from daemon.campaigns.files import read_rows, read_table
from daemon.campaigns.prepare import Prepared, prepare
from daemon.store.campaigns import RecipientInput

FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures"
DOCTORS = FIXTURES / "audience_doctors.csv"
SHIFTS = FIXTURES / "listings_shifts.csv"


def campaign(tmp_path: Path, **kw: Any) -> CampaignSpec:
    raw: dict[str, Any] = {
        "name": "plantoes",
        "audience": {"file": str(tmp_path / "a.csv")},
        "templates": [{"name": "vaga_plantao"}],
    }
    raw.update(kw)
    return CampaignSpec.model_validate(raw)


def carousel(tmp_path: Path, **kw: Any) -> dict[str, Any]:
    return {
        "listings": str(tmp_path / "l.csv"),
        "id_column": "vaga_id",
        "status_column": "status",
        **kw,
    }


ROWS = [
    {"crm": "1/SP", "telefone": "+55 11 98765-4321", "nome": "Ana", "opt_out": ""},
    {"crm": "2/SP", "telefone": "", "nome": "Bia", "opt_out": ""},
    {"crm": "3/SP", "telefone": "11 98765-4322", "nome": "Caio", "opt_out": "sim"},
    {"crm": "4/SP", "telefone": "5511987654323", "nome": "Duda", "opt_out": ""},
    {"crm": "5/SP", "telefone": "12345", "nome": "Eva", "opt_out": ""},
    {"crm": "1/SP", "telefone": "5511987654324", "nome": "Ana 2", "opt_out": ""},
    {"crm": "7/SP", "telefone": "5511987654325", "nome": "Gil", "opt_out": ""},
]
LISTINGS = [
    {"vaga_id": "V1", "hospital": "H1", "status": "aberta"},
    {"vaga_id": "V2", "hospital": "H2", "status": "fechada"},
    {"vaga_id": "V3", "hospital": "H3", "status": "aberta"},
    {"vaga_id": "V4", "hospital": "H4", "status": "aberta"},
    {"vaga_id": "V5", "hospital": "H5", "status": "aberta"},
    {"vaga_id": "V6", "hospital": "H6", "status": "aberta"},
]


def _summary(p: Prepared) -> list[tuple[str, str, int, int, str, str | None]]:
    return [(r.key, r.to, r.seq, r.part, r.state, r.reason) for r in p.recipients]


def test_recipients_and_skipped_rows_in_file_order(tmp_path: Path) -> None:
    spec = campaign(tmp_path, audience={"file": "a.csv", "opt_out_column": "opt_out"})
    p = prepare(spec, rows=ROWS, opted_out=frozenset({"5511987654325"}))
    assert _summary(p) == [
        ("5511987654321", "5511987654321", 1, 0, "pending", None),
        ("row:2", "", 2, 0, "skipped", "no number"),
        ("row:3", "", 3, 0, "skipped", "opted out"),
        ("5511987654323", "5511987654323", 4, 0, "pending", None),
        ("row:5", "", 5, 0, "skipped", "bad number: '12345'"),
        ("5511987654324", "5511987654324", 6, 0, "pending", None),
        ("row:7", "", 7, 0, "skipped", "opted out: marketing opt-out received"),
    ]
    assert p.sendable == 3
    assert p.recipients[0].fields == ROWS[0] | {"telefone": "+55 11 98765-4321"}
    assert all(r.fields == {} for r in p.recipients if r.state == "skipped")
    assert p.cards is None


def test_a_key_column_keys_the_recipients_and_catches_duplicates(tmp_path: Path) -> None:
    spec = campaign(tmp_path, audience={"file": "a.csv", "key_column": "crm"})
    p = prepare(spec, rows=ROWS)
    states = {r.seq: (r.key, r.state, r.reason) for r in p.recipients}
    assert states[1] == ("1/SP", "pending", None)
    assert states[3] == ("3/SP", "pending", None)  # no opt_out_column: not skipped
    assert states[6] == ("row:6", "skipped", "duplicate: 1/SP")
    assert len({r.key for r in p.recipients}) == len(p.recipients) == len(ROWS)


def test_the_fixture_audience(tmp_path: Path) -> None:
    with DOCTORS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    spec = campaign(
        tmp_path, audience={"file": "a.csv", "opt_out_column": "opt_out", "key_column": "crm"}
    )
    p = prepare(spec, rows=rows)
    assert len(p.recipients) == len(rows)
    assert [r.seq for r in p.recipients] == list(range(1, len(rows) + 1))
    assert p.sendable == len(p.audience.recipients) == 195
    assert p.audience.skipped_by_reason() == {"opted out": 6, "no number": 1, "bad number": 1}


def test_inline_audience(tmp_path: Path) -> None:
    spec = campaign(
        tmp_path,
        audience={"inline": [{"telefone": "+5511987654321", "n": 1}, {"telefone": "x"}]},
    )
    p = prepare(spec, rows=[{"phone": "ignored: the file is not used"}])
    assert _summary(p) == [
        ("5511987654321", "5511987654321", 1, 0, "pending", None),
        ("row:2", "", 2, 0, "skipped", "bad number: 'x'"),
    ]
    assert p.recipients[0].fields == {"telefone": "+5511987654321", "n": "1"}


@pytest.mark.parametrize(
    ("audience", "rows", "message"),
    [
        pytest.param(
            {"file": "a.csv"}, [{"crm": "1", "nome": "Ana"}], "no phone column", id="none"
        ),
        pytest.param({"file": "a.csv"}, [], "no phone column", id="empty-file"),
        pytest.param(
            {"file": "a.csv", "phone_column": "fone"},
            [{"telefone": "5511987654321"}],
            'no column "fone"',
            id="configured-missing",
        ),
    ],
)
def test_no_phone_column_is_a_config_error(
    tmp_path: Path, audience: dict[str, Any], rows: list[dict[str, str]], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        prepare(campaign(tmp_path, audience=audience), rows=rows, file="c.toml")
    (issue,) = caught.value.issues
    assert (issue.file, issue.field) == ("c.toml", "audience.phone_column")
    assert issue.message.startswith(message)


def test_a_configured_phone_column_is_used(tmp_path: Path) -> None:
    spec = campaign(tmp_path, audience={"file": "a.csv", "phone_column": "cel"})
    p = prepare(spec, rows=[{"telefone": "5511987654321", "cel": "5511987654329"}])
    assert [r.to for r in p.recipients] == ["5511987654329"]


def test_a_variable_whose_columns_the_audience_lacks_is_a_config_error(tmp_path: Path) -> None:
    """A typo in a column name would otherwise skip every recipient as "missing
    variable"; each slot at fault is named, with the columns there are."""
    spec = campaign(
        tmp_path,
        variables={
            "1": {"column": "primeiro_nome", "aliases": ["nomee"]},
            "2": "especialdade",
            "3": {"column": "cidade", "default": "sua cidade"},  # a default fills it
            "4": "nome",
            "5": "_tap",  # metad's own
        },
    )
    with pytest.raises(ConfigError) as caught:
        prepare(spec, rows=ROWS, file="c.toml")
    columns = "(its columns: crm, telefone, nome, opt_out)"
    assert [(i.field, i.message) for i in caught.value.issues] == [
        ("variables.1", f'no column "primeiro_nome" or "nomee" in {tmp_path / "a.csv"} {columns}'),
        ("variables.2", f'no column "especialdade" in {tmp_path / "a.csv"} {columns}'),
    ]


def test_a_column_one_inline_row_has_is_a_column(tmp_path: Path) -> None:
    spec = campaign(
        tmp_path,
        audience={"inline": [{"telefone": "5511987654321"}, {"telefone": "x", "n": 1}]},
        variables={"1": "n"},
    )
    assert prepare(spec, rows=[]).sendable == 1


# --- carousels --------------------------------------------------------------------------


def test_a_split_carousel_gives_one_recipient_per_part(tmp_path: Path) -> None:
    spec = campaign(
        tmp_path,
        audience={"file": "a.csv", "key_column": "crm"},
        carousel=carousel(tmp_path, overflow="split", max_messages=3),
    )
    rows = [ROWS[0], ROWS[1], ROWS[3]]
    p = prepare(spec, rows=rows, listings=LISTINGS, card_count=2)
    assert [(r.key, r.seq, r.part, r.state) for r in p.recipients] == [
        ("1/SP#1", 1, 0, "pending"),
        ("1/SP#2", 1, 1, "pending"),
        ("row:2", 2, 0, "skipped"),
        ("4/SP#1", 3, 0, "pending"),
        ("4/SP#2", 3, 1, "pending"),
    ]
    assert p.cards is not None
    assert [[c["_id"] for c in g] for g in p.cards.groups] == [["V1", "V3"], ["V4", "V5"]]
    assert (p.cards.closed, p.cards.left_out) == (1, 1)
    assert p.sendable == 4
    stored = p.stored
    assert [[c["_payload"] for c in g] for g in stored["cards"]] == [
        ["mc:plantoes:V1", "mc:plantoes:V3"],
        ["mc:plantoes:V4", "mc:plantoes:V5"],
    ]
    assert stored["spec"]["name"] == "plantoes"
    assert CampaignSpec.model_validate(stored["spec"]) == spec


def test_a_carousel_that_fits_in_one_message_keeps_the_plain_key(tmp_path: Path) -> None:
    spec = campaign(tmp_path, audience={"file": "a.csv"}, carousel=carousel(tmp_path))
    p = prepare(spec, rows=[ROWS[0]], listings=LISTINGS, card_count=2)
    assert [(r.key, r.part) for r in p.recipients] == [("5511987654321", 0)]
    assert p.cards is not None
    assert len(p.cards.groups) == 1


def test_the_fixture_listings_split(tmp_path: Path) -> None:
    with SHIFTS.open(encoding="utf-8", newline="") as f:
        listings = list(csv.DictReader(f))
    spec = campaign(
        tmp_path,
        audience={"file": "a.csv"},
        carousel=carousel(tmp_path, overflow="split", max_messages=10),
    )
    p = prepare(spec, rows=[ROWS[0]], listings=listings, card_count=3)
    assert [r.key for r in p.recipients] == [f"5511987654321#{i}" for i in (1, 2, 3)]
    assert p.cards is not None
    assert (p.cards.closed, p.cards.left_out) == (3, 2)


@pytest.mark.parametrize("card_count", [0, -1])
def test_a_carousel_with_a_template_that_is_not_one(tmp_path: Path, card_count: int) -> None:
    spec = campaign(tmp_path, carousel=carousel(tmp_path))
    with pytest.raises(ConfigError) as caught:
        prepare(spec, rows=ROWS, listings=LISTINGS, card_count=card_count, file="c.toml")
    (issue,) = caught.value.issues
    assert (issue.file, issue.field) == ("c.toml", "carousel")
    assert "not a carousel" in issue.message


def test_a_carousel_with_too_few_open_listings(tmp_path: Path) -> None:
    spec = campaign(tmp_path, carousel=carousel(tmp_path))
    with pytest.raises(ConfigError) as caught:
        prepare(spec, rows=ROWS, listings=LISTINGS, card_count=6, file="c.toml")
    (issue,) = caught.value.issues
    assert issue.field == "carousel.listings"
    assert issue.message == (
        f"6 open listings are needed for one carousel; 5 of the 6 in {tmp_path / 'l.csv'} are open"
    )


@pytest.mark.parametrize(
    ("kw", "field", "column"),
    [
        pytest.param({"status_column": "estado"}, "carousel.status_column", "estado", id="status"),
        pytest.param({"id_column": "id"}, "carousel.id_column", "id", id="id"),
    ],
)
def test_an_id_or_status_column_the_listings_lack_is_a_config_error(
    tmp_path: Path, kw: dict[str, str], field: str, column: str
) -> None:
    """Not "2 open listings are needed" (every listing counted as closed), nor row
    numbers silently standing in for the listing ids a tap answers with."""
    spec = campaign(tmp_path, carousel=carousel(tmp_path, **kw))
    with pytest.raises(ConfigError) as caught:
        prepare(spec, rows=ROWS, listings=LISTINGS, card_count=2, file="c.toml")
    (issue,) = caught.value.issues
    assert issue.field == field
    assert issue.message == (
        f'no column "{column}" in {tmp_path / "l.csv"} (its columns: vaga_id, hospital, status)'
    )


def test_the_default_id_column_must_be_there_too(tmp_path: Path) -> None:
    spec = campaign(tmp_path, carousel={"listings": str(tmp_path / "l.csv")})
    with pytest.raises(ConfigError) as caught:
        prepare(spec, rows=ROWS, listings=LISTINGS, card_count=2, file="c.toml")
    assert [i.field for i in caught.value.issues] == ["carousel.id_column"]


def test_a_card_slot_whose_column_the_listings_lack_is_a_config_error(tmp_path: Path) -> None:
    spec = campaign(tmp_path, carousel=carousel(tmp_path, cards={"1": "hopsital"}))
    with pytest.raises(ConfigError) as caught:
        prepare(spec, rows=ROWS, listings=LISTINGS, card_count=2, file="c.toml")
    (issue,) = caught.value.issues
    assert issue.field == "carousel.cards.1"
    assert issue.message.startswith('no column "hopsital" in ')


def test_a_campaign_without_a_carousel_ignores_the_card_count(tmp_path: Path) -> None:
    p = prepare(campaign(tmp_path), rows=[{"phone": "5511987654321"}], card_count=2)
    assert [(r.key, r.part) for r in p.recipients] == [("5511987654321", 0)]
    assert p.stored["cards"] == []


def test_recipient_inputs_are_what_the_store_takes(tmp_path: Path) -> None:
    p = prepare(campaign(tmp_path), rows=[{"phone": "5511987654321", "nome": "Ana"}])
    assert p.recipients == [
        RecipientInput(
            "5511987654321", "5511987654321", {"phone": "5511987654321", "nome": "Ana"}, 1
        )
    ]


# --- files.read_rows ------------------------------------------------------------------------


READ = [
    pytest.param(
        "a.csv",
        "telefone,nome\n5511987654321,Ana\n5511987654322,Bia\n",
        [
            {"telefone": "5511987654321", "nome": "Ana"},
            {"telefone": "5511987654322", "nome": "Bia"},
        ],
        id="plain-csv",
    ),
    pytest.param(
        "a.csv",
        "\ufefftelefone,nome\n5511987654321,Ana\n",
        [{"telefone": "5511987654321", "nome": "Ana"}],
        id="bom",
    ),
    pytest.param(
        "a.csv",
        "telefone;nome;valor\n5511987654321;Ana;1,50\n",
        [{"telefone": "5511987654321", "nome": "Ana", "valor": "1,50"}],
        id="semicolons",
    ),
    pytest.param(
        "a.csv",
        "\ufefftelefone;nome\r\n5511987654321;Ana\r\n",
        [{"telefone": "5511987654321", "nome": "Ana"}],
        id="excel-export-bom-semicolons-crlf",
    ),
    pytest.param(
        "a.csv",
        "telefone,nome\n\n5511987654321,Ana\n,\n  ,  \n\n5511987654322,Bia\n\n",
        [
            {"telefone": "5511987654321", "nome": "Ana"},
            {"telefone": "5511987654322", "nome": "Bia"},
        ],
        id="blank-lines",
    ),
    pytest.param(
        "a.csv",
        'telefone,nome\n 5511987654321 ,"Ana, a médica"\n',
        [{"telefone": "5511987654321", "nome": "Ana, a médica"}],
        id="quoted-comma-and-spaces",
    ),
    pytest.param(
        "a.csv",
        "telefone,nome\n5511987654321\n",
        [{"telefone": "5511987654321", "nome": ""}],
        id="short-row",
    ),
    pytest.param("a.csv", "telefone,nome\n", [], id="header-only"),
    pytest.param(
        "l.json",
        '[{"id": "V1", "valor": 1800, "x": null}, {"id": "V2", "ok": true}]',
        [{"id": "V1", "valor": "1800", "x": ""}, {"id": "V2", "ok": "True"}],
        id="json-list",
    ),
    pytest.param(
        "l.json",
        '{"items": [{"id": "V1"}], "next": null}',
        [{"id": "V1"}],
        id="json-items",
    ),
    pytest.param(
        "l.JSON",
        '{"listings": [{"id": "V1"}]}',
        [{"id": "V1"}],
        id="json-listings-upper-suffix",
    ),
    pytest.param("l.json", "\ufeff[]", [], id="json-empty-with-bom"),
]


@pytest.mark.parametrize(("name", "text", "rows"), READ)
def test_read_rows(tmp_path: Path, name: str, text: str, rows: list[dict[str, str]]) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    assert read_rows(path) == rows


READ_ERRORS = [
    pytest.param("l.json", '[{"id": "V1"},\n {"id": }]', 2, "invalid JSON", id="json-syntax"),
    pytest.param("l.json", "", 1, "invalid JSON", id="json-empty"),
    pytest.param("l.json", '{"id": "V1"}', 1, "expected a list of objects", id="json-object"),
    pytest.param("l.json", '["V1", "V2"]', 1, "expected a list of objects", id="json-strings"),
    pytest.param("l.json", '{"items": 3}', 1, "expected a list of objects", id="json-items-3"),
    pytest.param("a.csv", "", 1, "no header row", id="csv-empty"),
    pytest.param(
        "a.csv",
        "telefone,nome\n5511987654321,Ana\n5511987654322,Bia,extra\n",
        3,
        "more fields than the header has",
        id="csv-long-row",
    ),
]


@pytest.mark.parametrize(("name", "text", "line", "message"), READ_ERRORS)
def test_read_rows_errors_name_file_and_line(
    tmp_path: Path, name: str, text: str, line: int, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_rows(path)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line) == (str(path), line)
    assert issue.message.startswith(message)
    assert str(issue).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("absent.csv", None, None),
        # not UTF-8: the line with the first bad byte (found by tests/reliability)
        ("latin1.csv", "telefone,nome\n5511987654321,Jo\xe3o\n".encode("latin-1"), 2),
    ],
)
def test_an_unreadable_file_is_a_config_error(
    tmp_path: Path, name: str, content: bytes | None, line: int | None
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        read_rows(path)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line) == (str(path), line)
    assert issue.message.startswith("cannot read")


def test_read_rows_reads_the_fixtures() -> None:
    doctors = read_rows(DOCTORS)
    with DOCTORS.open(encoding="utf-8", newline="") as f:
        assert doctors == [{k: v.strip() for k, v in r.items()} for r in csv.DictReader(f)]
    shifts = read_rows(SHIFTS)
    assert len(shifts) == 14
    assert shifts[0]["vaga_id"] == "V1000"


def test_a_blank_line_before_the_header(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("\ntelefone;nome\n5511987654321;Ana\n", encoding="utf-8")
    assert read_rows(path) == [{"telefone": "5511987654321", "nome": "Ana"}]


def test_read_table_gives_the_line_each_row_starts_on(tmp_path: Path) -> None:
    """What ``plan --skipped`` shows: the line to look at in the file, not a row count
    that blank lines and multi-line cells throw off."""
    path = tmp_path / "a.csv"
    path.write_text(
        "\n"  # 1: blank above the header
        "telefone,nome\n"  # 2
        "5511987654321,Ana\n"  # 3
        "\n"  # 4
        ",\n"  # 5: blank cells
        '5511987654322,"Bia\n'  # 6
        'de Souza"\n'  # 7
        "5511987654323,Caio\n",  # 8
        encoding="utf-8",
    )
    table = read_table(path)
    assert [r["nome"] for r in table.rows] == ["Ana", "Bia\nde Souza", "Caio"]
    assert table.lines == [3, 6, 8]


def test_a_json_table_has_no_lines(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    path.write_text('[{"id": "V1"}]', encoding="utf-8")
    assert read_table(path).lines is None
