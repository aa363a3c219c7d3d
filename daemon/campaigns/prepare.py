"""A checked campaign file + its data → the recipients to store, and what was left out.

Why done once, before anything is stored: the recipient list (order, keys, carousel
parts, skipped rows with reasons) is fixed when the campaign is created, so a restart
resumes the same list and the dry-run plan counts exactly what the run would send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.campaign.audience import Audience, build_audience, find_phone_column
from actors.campaign.cards import CardPlan, plan_cards
from actors.templates.mapper import MappingError, parse_mapping
from config import ConfigError, ConfigIssue
from config.campaign import CampaignSpec, CarouselSpec, FieldRef
from config.locate import locate_line
from daemon.store.campaigns import RecipientInput

__all__ = ["Origin", "Prepared", "audience_rows", "columns_of", "prepare"]

Row = dict[str, str]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the audience's rows came from, to point a person at a skipped one."""

    file: Path | None
    """None: the campaign file's ``inline`` list."""
    lines: Sequence[int] | None = None
    """The file line of each row (a CSV's), by row number − 1."""
    phone_column: str = ""
    columns: tuple[str, ...] = ()
    """The audience's columns, first seen first."""

    def where(self, row: int) -> str:
        """``doctors.csv:14`` (``doctors.csv row 14`` when lines are unknown) or
        ``inline[13]`` (its index in the list) for 1-based data row ``row``."""
        if self.file is None:
            return f"inline[{row - 1}]"
        if self.lines is not None and 0 < row <= len(self.lines):
            return f"{self.file.name}:{self.lines[row - 1]}"
        return f"{self.file.name} row {row}"


@dataclass(frozen=True, slots=True)
class Prepared:
    spec: CampaignSpec
    audience: Audience
    cards: CardPlan | None
    recipients: list[RecipientInput]
    """Every row, in file order: the valid ones pending, the others skipped."""
    origin: Origin = Origin(None)
    given: Mapping[int, str] = field(default_factory=dict)
    """The phone each skipped row held, as written, by row number (a skipped row's
    recipient keeps no fields)."""

    @property
    def stored(self) -> dict[str, Any]:
        """What the campaigns row keeps: the spec and the carousel cards, frozen."""
        return {
            "spec": self.spec.model_dump(mode="json"),
            "cards": [list(map(dict, g)) for g in self.cards.groups] if self.cards else [],
        }

    @property
    def sendable(self) -> int:
        return sum(1 for r in self.recipients if r.state == "pending")


def prepare(
    spec: CampaignSpec,
    *,
    rows: Sequence[Row],
    listings: Sequence[Row] = (),
    card_count: int = 0,
    opted_out: frozenset[str] = frozenset(),
    file: str = "",
    lines: Sequence[int] | None = None,
) -> Prepared:
    """Raises ConfigError when the audience has no phone column or the carousel cannot
    be built (the template is not a carousel, or too few open listings). ``lines``: the
    file line of each of ``rows``, to say where a skipped row is."""
    a = spec.audience
    data = audience_rows(spec, rows)
    header = list(data[0]) if data else []
    phone = find_phone_column(header, a.phone_column)
    if phone is None:
        what = f'no column "{a.phone_column}"' if a.phone_column else "no phone column"
        raise ConfigError([_issue(file, ("audience", "phone_column"), f"{what} in {header}")])
    columns = columns_of(data)
    issues = _check_columns(
        spec.variables, columns, ("variables",), a.file or "the inline audience", file
    )
    if spec.carousel is not None:
        listed = columns_of(listings)
        issues += _check_columns(
            spec.carousel.cards, listed, ("carousel", "cards"), spec.carousel.listings, file
        )
        issues += _check_listing_columns(spec.carousel, listed, file)
    if issues:
        raise ConfigError(issues)
    audience = build_audience(
        data,
        phone_column=phone,
        opt_out_column=a.opt_out_column,
        key_column=a.key_column,
        opted_out=opted_out,
    )
    cards: CardPlan | None = None
    parts = 1
    if spec.carousel is not None:
        c = spec.carousel
        if card_count < 1:
            raise ConfigError(
                [_issue(file, ("carousel",), "the campaign's template is not a carousel")]
            )
        cards = plan_cards(
            listings,
            campaign=spec.name,
            card_count=card_count,
            id_column=c.id_column,
            status_column=c.status_column,
            open_values=c.open_values,
            overflow=c.overflow,
            max_messages=c.max_messages,
        )
        if not cards.groups:
            opened = len(listings) - cards.closed
            raise ConfigError(
                [
                    _issue(
                        file,
                        ("carousel", "listings"),
                        f"{card_count} open listings are needed for one carousel;"
                        f" {opened} of the {len(listings)} in {c.listings} are open",
                    )
                ]
            )
        parts = len(cards.groups)
    out: list[RecipientInput] = []
    for r in audience.recipients:
        for part in range(parts):
            key = r.key if parts == 1 else f"{r.key}#{part + 1}"
            out.append(RecipientInput(key, r.to, dict(r.fields), r.row, part))
    for s in audience.skipped:
        key = f"row:{s.row}"  # unique: a skipped row has no usable key of its own
        out.append(RecipientInput(key, "", {}, s.row, 0, "skipped", s.reason))
    seen: set[str] = set()
    unique: list[RecipientInput] = []
    for item in sorted(out, key=lambda x: (x.seq, x.part)):
        if item.key not in seen:
            seen.add(item.key)
            unique.append(item)
    origin = Origin(a.file, lines, phone, tuple(columns))
    given = {s.row: data[s.row - 1].get(phone, "") for s in audience.skipped}
    return Prepared(spec, audience, cards, unique, origin, given)


def audience_rows(spec: CampaignSpec, rows: Sequence[Row]) -> Sequence[Row]:
    """The audience's rows: ``rows`` (read from its file) or its inline list, as text."""
    if spec.audience.file is not None:
        return rows
    return [{k: str(v) for k, v in r.items()} for r in spec.audience.inline]


def _check_columns(
    refs: Mapping[str, FieldRef],
    header: Sequence[str],
    table: tuple[str, ...],
    source: object,
    file: str,
) -> list[ConfigIssue]:
    """A slot none of whose columns the data has (``header``: its columns; none, no
    data: nothing checked) and that has no default: every recipient would be skipped as
    "missing variable", which says nothing of the typo in the campaign file. Columns
    starting with ``_`` are metad's own (a button's tap payload)."""
    if not header:
        return []
    try:
        specs = parse_mapping(refs)
    except MappingError:
        return []  # the file check names it (config.campaign)
    return [
        _issue(
            file,
            (*table, slot),
            f"no column {' or '.join(map(_quoted, spec.columns))} in {source}"
            f" (its columns: {', '.join(header)})",
        )
        for slot, spec in specs.items()
        if spec.default is None and not any(c in header or c.startswith("_") for c in spec.columns)
    ]


def _check_listing_columns(c: CarouselSpec, header: Sequence[str], file: str) -> list[ConfigIssue]:
    """The id and status columns must be columns of the listings file: without the id
    column each card's id (what a tap answers with) silently became its row number, and
    without the status column every listing counted as closed ("2 open listings are
    needed"), which hid the typo."""
    if not header:
        return []  # no listings: the "open listings are needed" error says it
    named = (("id_column", c.id_column), ("status_column", c.status_column))
    return [
        _issue(
            file,
            ("carousel", key),
            f"no column {_quoted(column)} in {c.listings} (its columns: {', '.join(header)})",
        )
        for key, column in named
        if column is not None and column not in header
    ]


def columns_of(rows: Sequence[Mapping[str, object]]) -> list[str]:
    """Every column the rows have, in first-seen order (an inline audience's rows may
    differ in their keys)."""
    header: dict[str, None] = {}
    for row in rows:
        # A file's rows all have its header's keys: compared, not merged, per row.
        if len(row) != len(header) or row.keys() != header.keys():
            header.update(dict.fromkeys(row))
    return list(header)


def _quoted(name: str) -> str:
    return f'"{name}"'


def _issue(file: str, loc: tuple[str, ...], message: str) -> ConfigIssue:
    """An issue at the line of ``loc`` in the campaign file (its table's line when the key
    is not written there); no line when the file cannot be read."""
    try:
        line: int | None = locate_line(Path(file).read_text(encoding="utf-8"), loc)
    except (OSError, UnicodeDecodeError):
        line = None
    return ConfigIssue(file, line, ".".join(loc), message)
