"""Carousel cards from a listings file (open shifts): which listings, how many messages.

Why here and not in the template mapper: the mapper fills one card from one row; which
rows become cards is the campaign's business — only open listings, in file order, in
groups of exactly the template's card count (Meta refuses a carousel whose cards differ
in number from its template's). More listings than one carousel holds are either cut
(``truncate``) or sent as several carousels (``split``); a last group too small for the
template is left out and counted, never padded with made-up cards.

Every card's quick-reply payload says which campaign and listing it came from
(``mc:<campaign>:<listing id>``), so a tap that comes back as a webhook is tied to both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["TAP_PREFIX", "CardPlan", "parse_tap", "plan_cards", "tap_payload"]

TAP_PREFIX = "mc:"
Row = Mapping[str, object]


def tap_payload(campaign: str, ref: str) -> str:
    return f"{TAP_PREFIX}{campaign}:{ref}"


def parse_tap(payload: str | None) -> tuple[str, str] | None:
    """(campaign, listing or button ref) from a quick-reply payload metad wrote."""
    if not payload or not payload.startswith(TAP_PREFIX):
        return None
    campaign, sep, ref = payload[len(TAP_PREFIX) :].partition(":")
    return (campaign, ref) if sep and campaign else None


@dataclass(frozen=True, slots=True)
class CardPlan:
    groups: tuple[tuple[Row, ...], ...]
    """One tuple of card rows per carousel message."""
    closed: int
    """Listings left out because they are not open."""
    left_out: int
    """Open listings that did not fit (truncated, or a last group too small)."""


def plan_cards(
    listings: Sequence[Row],
    *,
    campaign: str,
    card_count: int,
    id_column: str,
    status_column: str | None,
    open_values: Sequence[str],
    overflow: str,
    max_messages: int,
) -> CardPlan:
    """Group the open listings into carousels of ``card_count`` cards each.

    Each row gains ``_id`` (its listing id) and ``_payload`` (its tap payload).
    """
    if card_count < 1:
        raise ValueError("the template is not a carousel")
    wanted = {v.strip().lower() for v in open_values}
    rows: list[Row] = []
    closed = 0
    for row in listings:
        if status_column and str(row.get(status_column, "")).strip().lower() not in wanted:
            closed += 1
            continue
        ref = str(row.get(id_column, "")).strip() or str(len(rows) + closed + 1)
        rows.append({**row, "_id": ref, "_payload": tap_payload(campaign, ref)})
    groups_n = len(rows) // card_count
    if overflow != "split":
        groups_n = min(groups_n, 1)
    groups_n = min(groups_n, max_messages)
    groups = tuple(tuple(rows[i * card_count : (i + 1) * card_count]) for i in range(groups_n))
    return CardPlan(groups, closed, len(rows) - groups_n * card_count)
