"""Carousel cards from listings: only open ones, groups of the template's card count."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import pytest

from actors.campaign.cards import TAP_PREFIX, CardPlan, Row, parse_tap, plan_cards, tap_payload

FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures"
SHIFTS = FIXTURES / "listings_shifts.csv"
OPEN = ("open", "aberta", "aberto")


@pytest.fixture(scope="module")
def shifts() -> list[dict[str, str]]:
    with SHIFTS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows, f"no rows in {SHIFTS}"
    return rows


@pytest.fixture(scope="module")
def open_ids(shifts: list[dict[str, str]]) -> list[str]:
    return [r["vaga_id"] for r in shifts if r["status"] == "aberta"]


def plan(
    listings: Sequence[Row],
    *,
    card_count: int = 2,
    overflow: str = "truncate",
    max_messages: int = 3,
    status_column: str | None = "status",
    id_column: str = "vaga_id",
    open_values: Sequence[str] = OPEN,
) -> CardPlan:
    return plan_cards(
        listings,
        campaign="plantoes",
        card_count=card_count,
        id_column=id_column,
        status_column=status_column,
        open_values=open_values,
        overflow=overflow,
        max_messages=max_messages,
    )


def ids(p: CardPlan) -> list[list[str]]:
    return [[str(row["_id"]) for row in group] for group in p.groups]


def test_the_fixture_holds_open_and_closed_shifts(
    shifts: list[dict[str, str]], open_ids: list[str]
) -> None:
    assert {r["status"] for r in shifts} == {"aberta", "fechada"}
    assert (len(shifts), len(open_ids)) == (14, 11)


def test_only_open_listings_become_cards_in_file_order(
    shifts: list[dict[str, str]], open_ids: list[str]
) -> None:
    p = plan(shifts, card_count=1, overflow="split", max_messages=10)
    assert [g[0]["_id"] for g in p.groups] == open_ids[:10]
    assert p.closed == len(shifts) - len(open_ids)
    assert all(g[0]["status"] == "aberta" for g in p.groups)


@pytest.mark.parametrize(
    ("card_count", "overflow", "max_messages", "groups", "left_out"),
    [
        pytest.param(2, "truncate", 3, 1, 11 - 2, id="truncate-keeps-one-carousel"),
        pytest.param(2, "truncate", 1, 1, 11 - 2, id="truncate-max-one"),
        pytest.param(10, "truncate", 3, 1, 11 - 10, id="truncate-ten-cards"),
        pytest.param(2, "split", 3, 3, 11 - 6, id="split-capped-by-max-messages"),
        pytest.param(2, "split", 10, 5, 1, id="split-last-odd-listing-left-out"),
        pytest.param(3, "split", 10, 3, 2, id="split-last-small-group-left-out"),
        pytest.param(11, "split", 10, 1, 0, id="split-exactly-one"),
        pytest.param(1, "split", 10, 10, 1, id="split-one-card-each"),
        pytest.param(12, "split", 10, 0, 11, id="too-few-open-listings"),
        pytest.param(12, "truncate", 3, 0, 11, id="too-few-open-listings-truncate"),
    ],
)
def test_grouping(
    shifts: list[dict[str, str]],
    open_ids: list[str],
    card_count: int,
    overflow: str,
    max_messages: int,
    groups: int,
    left_out: int,
) -> None:
    p = plan(shifts, card_count=card_count, overflow=overflow, max_messages=max_messages)
    assert len(p.groups) == groups
    assert all(len(g) == card_count for g in p.groups)  # never padded
    sent = [i for g in ids(p) for i in g]
    assert sent == open_ids[: groups * card_count]
    assert p.left_out == left_out == len(open_ids) - len(sent)
    assert p.closed == 3


def test_split_groups_in_order(shifts: list[dict[str, str]], open_ids: list[str]) -> None:
    p = plan(shifts, card_count=2, overflow="split", max_messages=3)
    assert ids(p) == [open_ids[0:2], open_ids[2:4], open_ids[4:6]]
    assert ids(p)[0] == ["V1001", "V1002"]


def test_each_card_carries_its_id_and_tap_payload(shifts: list[dict[str, str]]) -> None:
    p = plan(shifts, card_count=2)
    for row in p.groups[0]:
        assert row["_payload"] == f"mc:plantoes:{row['vaga_id']}"
        assert row["_id"] == row["vaga_id"]
        assert parse_tap(str(row["_payload"])) == ("plantoes", row["vaga_id"])
        assert row["hospital"]  # the listing's own columns stay for the card mapping


def test_the_listings_are_not_changed(shifts: list[dict[str, str]]) -> None:
    before = [dict(r) for r in shifts]
    plan(shifts, card_count=2)
    assert shifts == before


@pytest.mark.parametrize(
    ("status", "open_values", "is_open"),
    [
        pytest.param("aberta", OPEN, True, id="aberta"),
        pytest.param(" ABERTA ", OPEN, True, id="case-and-spaces"),
        pytest.param("open", OPEN, True, id="open"),
        pytest.param("fechada", OPEN, False, id="fechada"),
        pytest.param("", OPEN, False, id="blank"),
        pytest.param("disponivel", ["Disponivel"], True, id="own-open-values"),
        pytest.param("aberta", ["disponivel"], False, id="own-values-replace-the-defaults"),
    ],
)
def test_status_values(status: str, open_values: Sequence[str], is_open: bool) -> None:
    p = plan([{"vaga_id": "V1", "status": status}], card_count=1, open_values=open_values)
    assert (len(p.groups), p.closed) == ((1, 0) if is_open else (0, 1))


def test_without_a_status_column_every_listing_is_open(shifts: list[dict[str, str]]) -> None:
    p = plan(shifts, card_count=2, overflow="split", max_messages=10, status_column=None)
    assert (len(p.groups), p.closed, p.left_out) == (7, 0, 0)


def test_a_listing_without_an_id_gets_its_position() -> None:
    rows: list[Row] = [{"status": "aberta"}, {"id": "  ", "status": "aberta"}]
    p = plan(rows, card_count=2, id_column="id")
    assert ids(p) == [["1", "2"]]
    assert p.groups[0][1]["_payload"] == "mc:plantoes:2"


def test_a_missing_status_column_value_counts_as_closed() -> None:
    p = plan([{"vaga_id": "V1"}], card_count=1)
    assert (p.groups, p.closed) == ((), 1)


@pytest.mark.parametrize("card_count", [0, -1])
def test_a_card_count_below_one_is_not_a_carousel(
    shifts: list[dict[str, str]], card_count: int
) -> None:
    with pytest.raises(ValueError, match="not a carousel"):
        plan(shifts, card_count=card_count)


# --- payloads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("campaign", "ref"),
    [
        ("plantoes", "V1001"),
        ("plantoes-dezembro.2026_a", "123/SP"),
        ("c", "a:b:c"),  # a ref may hold colons: only the first one splits
        ("c", "5511987654321#2"),
    ],
)
def test_tap_payload_round_trip(campaign: str, ref: str) -> None:
    payload = tap_payload(campaign, ref)
    assert payload == f"{TAP_PREFIX}{campaign}:{ref}"
    assert parse_tap(payload) == (campaign, ref)


@pytest.mark.parametrize(
    "payload",
    [None, "", "Aceitar", "mc:", "mc:plantoes", "mc::V1", "MC:plantoes:V1", "xmc:plantoes:V1"],
)
def test_payloads_metad_did_not_write(payload: str | None) -> None:
    assert parse_tap(payload) is None
