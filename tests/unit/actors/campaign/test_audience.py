"""Audience rows → recipients or skipped rows: phone forms, opt-outs, duplicates, keys."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import pytest

from actors.campaign.audience import (
    PHONE_COLUMNS,
    Audience,
    Recipient,
    Skipped,
    build_audience,
    find_phone_column,
    is_truthy,
)

FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures"
DOCTORS = FIXTURES / "audience_doctors.csv"


def _doctors() -> list[dict[str, str]]:
    with DOCTORS.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _build(
    rows: list[dict[str, str]],
    *,
    opt_out_column: str | None = None,
    key_column: str | None = None,
    opted_out: frozenset[str] = frozenset(),
) -> Audience:
    return build_audience(
        rows,
        phone_column="phone",
        opt_out_column=opt_out_column,
        key_column=key_column,
        opted_out=opted_out,
    )


# --- the fixture: 203 rows of phones as a CRM holds them --------------------------------


@pytest.fixture(scope="module")
def doctors() -> list[dict[str, str]]:
    rows = _doctors()
    assert rows, f"no rows in {DOCTORS}"
    return rows


@pytest.fixture(scope="module")
def audience(doctors: list[dict[str, str]]) -> Audience:
    return build_audience(
        doctors, phone_column="telefone", opt_out_column="opt_out", key_column="crm"
    )


def test_the_fixture_counts(doctors: list[dict[str, str]], audience: Audience) -> None:
    opted_out = sum(1 for r in doctors if r["opt_out"].strip().lower() == "sim")
    no_number = sum(1 for r in doctors if not r["telefone"].strip())
    assert (len(doctors), opted_out, no_number) == (203, 6, 1)  # what the fixture holds
    assert audience.skipped_by_reason() == {
        "opted out": opted_out,
        "no number": no_number,
        "bad number": 1,
    }
    assert len(audience.recipients) == len(doctors) - opted_out - no_number - 1 == 195
    assert len(audience.recipients) + len(audience.skipped) == len(doctors)


def test_the_bad_rows_at_the_end_of_the_fixture(
    doctors: list[dict[str, str]], audience: Audience
) -> None:
    bad = [s for s in audience.skipped if not s.reason.startswith("opted out")]
    n = len(doctors)
    assert bad == [
        Skipped(n - 2, "no number"),
        Skipped(n - 1, "bad number: '12345'"),
    ]
    # The last row has no name but a good number: it is a recipient (the mapper's
    # default fills its name later).
    last = audience.recipients[-1]
    assert (last.row, last.key, last.to) == (n, "77777/MG", "5531988887777")
    assert last.fields["primeiro_nome"] == ""


def test_opted_out_rows_are_exactly_the_sim_rows(
    doctors: list[dict[str, str]], audience: Audience
) -> None:
    sim_rows = [i for i, r in enumerate(doctors, start=1) if r["opt_out"] == "sim"]
    opted = [s for s in audience.skipped if s.reason == "opted out"]
    assert [s.row for s in opted] == sim_rows
    assert [s.key for s in opted] == [doctors[i - 1]["crm"] for i in sim_rows]


def test_every_recipient_is_international_digits_in_file_order(
    doctors: list[dict[str, str]], audience: Audience
) -> None:
    rows = [r.row for r in audience.recipients]
    assert rows == sorted(rows)
    for r in audience.recipients:
        assert r.to.isdigit(), r
        assert r.to.startswith("55"), r
        assert len(r.to) in (12, 13), r  # with or without the mobile ninth digit
        assert r.key == doctors[r.row - 1]["crm"]
        assert r.fields == {k: v.strip() for k, v in doctors[r.row - 1].items()}
    assert len({r.to for r in audience.recipients}) == len(audience.recipients)


def test_the_first_rows_of_the_fixture(doctors: list[dict[str, str]], audience: Audience) -> None:
    # Row 1 opted out; rows 2-4 show three phone forms.
    assert audience.skipped[0] == Skipped(1, "opted out", doctors[0]["crm"])
    by_row = {r.row: r.to for r in audience.recipients}
    assert by_row[2] == "5571995480950"  # already international
    assert by_row[3] == "558111443943"  # 12 digits: no ninth digit, kept as is
    assert by_row[4] == "5541995511013"  # national: the country code is added


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        pytest.param("+55 (71) 92471-6468", "5571924716468", id="plus-with-punctuation"),
        pytest.param("+5521953515826", "5521953515826", id="plus-digits"),
        pytest.param("5571995480950", "5571995480950", id="international-13"),
        pytest.param("558111443943", "558111443943", id="international-12-no-ninth-digit"),
        pytest.param("41995511013", "5541995511013", id="national-mobile"),
        pytest.param("4133334444", "554133334444", id="national-landline"),
        pytest.param("011987654321", "5511987654321", id="trunk-zero"),
        pytest.param("  5511987654321  ", "5511987654321", id="surrounding-spaces"),
        pytest.param("14155550123", "14155550123", id="foreign-wa-id"),
    ],
)
def test_phone_forms(phone: str, expected: str) -> None:
    a = _build([{"phone": phone}])
    assert a.skipped == []
    assert [(r.key, r.to) for r in a.recipients] == [(expected, expected)]


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        pytest.param("12345", "bad number: '12345'", id="too-short"),
        pytest.param("abc", "bad number: 'abc'", id="letters"),
        pytest.param("55 11 8765", "bad number: '55 11 8765'", id="short-with-spaces"),
        pytest.param("5500987654321", "bad number: '5500987654321'", id="area-code-00"),
        pytest.param("", "no number", id="empty"),
        pytest.param("   ", "no number", id="blank"),
    ],
)
def test_unusable_phones_are_skipped_with_the_reason(phone: str, reason: str) -> None:
    a = _build([{"phone": phone}])
    assert a.recipients == []
    assert a.skipped == [Skipped(1, reason)]


def test_a_row_without_the_phone_column_has_no_number() -> None:
    a = _build([{"nome": "Ana"}])
    assert a.skipped == [Skipped(1, "no number")]


def test_a_none_value_is_empty() -> None:
    # csv.DictReader gives None for a short row's missing fields.
    a = build_audience([{"phone": None, "nome": "Ana"}], phone_column="phone")
    assert a.skipped == [Skipped(1, "no number")]


def test_extra_fields_of_a_long_csv_row_are_dropped() -> None:
    # csv.DictReader files fields beyond the header under the key None.
    row: Mapping[str, object] = {"phone": "5511987654321", None: ["extra"]}  # type: ignore[dict-item]
    a = build_audience([row], phone_column="phone")
    assert a.recipients[0].fields == {"phone": "5511987654321"}


# --- opt-outs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "out"),
    [
        *[(v, True) for v in ("sim", "SIM", " Sim ", "yes", "y", "s", "x", "1", "true", "TRUE")],
        *[(v, False) for v in ("não", "nao", "no", "0", "false", "", "talvez")],
    ],
)
def test_opt_out_column_values(value: str, out: bool) -> None:
    assert is_truthy(value) is out
    a = _build([{"phone": "5511987654321", "opt": value}], opt_out_column="opt")
    assert len(a.skipped) == int(out)
    if out:
        assert a.skipped[0] == Skipped(1, "opted out", "5511987654321")


def test_numbers_in_the_opted_out_set_are_skipped_in_any_written_form() -> None:
    rows = [{"phone": "+55 (11) 98765-4321"}, {"phone": "11987654322"}, {"phone": "5511987654323"}]
    a = _build(rows, opted_out=frozenset({"5511987654321", "5511987654323"}))
    assert [r.to for r in a.recipients] == ["5511987654322"]
    assert a.skipped == [
        Skipped(1, "opted out: marketing opt-out received", "5511987654321"),
        Skipped(3, "opted out: marketing opt-out received", "5511987654323"),
    ]
    assert a.skipped_by_reason() == {"opted out": 2}


def test_the_opt_out_column_is_reported_before_the_opted_out_set() -> None:
    a = _build(
        [{"phone": "5511987654321", "opt": "sim"}],
        opt_out_column="opt",
        opted_out=frozenset({"5511987654321"}),
    )
    assert a.skipped == [Skipped(1, "opted out", "5511987654321")]


# --- duplicates and keys ---------------------------------------------------------------


DUPLICATES = [
    pytest.param(
        [{"phone": "5511987654321"}, {"phone": "+55 11 98765-4321"}],
        None,
        [(1, "5511987654321")],
        [Skipped(2, "duplicate: 5511987654321", "5511987654321")],
        id="same-phone-two-forms",
    ),
    pytest.param(
        [{"phone": "5511987654321", "crm": "1"}, {"phone": "5511987654322", "crm": "1"}],
        "crm",
        [(1, "1")],
        [Skipped(2, "duplicate: 1", "1")],
        id="same-key-different-phone",
    ),
    pytest.param(
        [{"phone": "5511987654321", "crm": "1"}, {"phone": "11987654321", "crm": "2"}],
        "crm",
        [(1, "1")],
        [Skipped(2, "duplicate: 2", "2")],
        id="same-phone-different-key",
    ),
    pytest.param(
        [
            {"phone": "5511987654321", "crm": "1"},
            {"phone": "5511987654322", "crm": "2"},
            {"phone": "5511987654321", "crm": "1"},
        ],
        "crm",
        [(1, "1"), (2, "2")],
        [Skipped(3, "duplicate: 1", "1")],
        id="repeat-later-in-the-file",
    ),
]


@pytest.mark.parametrize(("rows", "key_column", "kept", "skipped"), DUPLICATES)
def test_duplicates_are_skipped_after_the_first(
    rows: list[dict[str, str]],
    key_column: str | None,
    kept: list[tuple[int, str]],
    skipped: list[Skipped],
) -> None:
    a = _build(rows, key_column=key_column)
    assert [(r.row, r.key) for r in a.recipients] == kept
    assert a.skipped == skipped
    assert a.skipped_by_reason() == {"duplicate": len(skipped)}


def test_an_opted_out_row_does_not_claim_its_number() -> None:
    rows = [{"phone": "5511987654321", "opt": "sim"}, {"phone": "5511987654321", "opt": "não"}]
    a = _build(rows, opt_out_column="opt")
    assert [r.row for r in a.recipients] == [2]


def test_the_key_column_becomes_the_key_and_the_phone_stays_the_destination() -> None:
    a = _build([{"phone": "+55 11 98765-4321", "crm": " 123/SP "}], key_column="crm")
    assert a.recipients == [
        Recipient("123/SP", "5511987654321", {"phone": "+55 11 98765-4321", "crm": "123/SP"}, 1)
    ]


def test_an_empty_key_is_skipped_with_the_column_name() -> None:
    a = _build([{"phone": "5511987654321", "crm": ""}], key_column="crm")
    assert a.recipients == []
    assert a.skipped == [Skipped(1, "no crm", "5511987654321")]


def test_without_a_key_column_the_normalised_phone_is_the_key() -> None:
    a = _build([{"phone": "(11) 98765-4321"}])
    assert a.recipients[0].key == a.recipients[0].to == "5511987654321"


def test_values_are_stringified_and_stripped() -> None:
    a = build_audience([{"phone": 5511987654321, "n": 7, "x": " a "}], phone_column="phone")
    assert a.recipients[0].fields == {"phone": "5511987654321", "n": "7", "x": "a"}


def test_rows_are_numbered_from_one_after_the_header() -> None:
    rows = [{"phone": ""}, {"phone": "5511987654321"}, {"phone": "x"}]
    a = _build(rows)
    assert [r.row for r in a.recipients] == [2]
    assert [s.row for s in a.skipped] == [1, 3]


# --- find_phone_column -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "configured", "expected"),
    [
        pytest.param(["crm", "telefone", "nome"], None, "telefone", id="telefone"),
        pytest.param(["wa_id", "phone"], None, "phone", id="phone-before-wa_id"),
        pytest.param(["celular", "telefone"], None, "telefone", id="telefone-before-celular"),
        pytest.param(["numero", "whatsapp"], None, "whatsapp", id="whatsapp-before-numero"),
        pytest.param(["Telefone", "nome"], None, "Telefone", id="case-kept"),
        pytest.param([" Phone ", "nome"], None, " Phone ", id="spaces-kept"),
        pytest.param(["crm", "nome"], None, None, id="none"),
        pytest.param([], None, None, id="empty-header"),
        pytest.param(["fone", "telefone"], "fone", "fone", id="configured"),
        pytest.param(["telefone"], "fone", None, id="configured-missing"),
        pytest.param(["Fone"], "fone", None, id="configured-is-exact"),
    ],
)
def test_find_phone_column(header: list[str], configured: str | None, expected: str | None) -> None:
    assert find_phone_column(header, configured) == expected


def test_every_default_phone_column_is_found_alone() -> None:
    for name in PHONE_COLUMNS:
        assert find_phone_column(["nome", name], None) == name


def test_the_fixture_header_has_a_phone_column(doctors: list[dict[str, str]]) -> None:
    assert find_phone_column(list(doctors[0]), None) == "telefone"
