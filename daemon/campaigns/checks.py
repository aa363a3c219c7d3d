"""What makes a campaign unable to ever send, found before it is stored: with the daemon's
config (its chips and WABAs), the clock and the WABAs' synced templates.

Why refused rather than planned: such a campaign used to be accepted, its plan skipped
every recipient as "no chip: no chip in the pool is healthy with the template approved"
(the real cause in a side line), and once started it waited forever or "finished" with
everyone unsent. Each check here depends on something the pure file check
(:mod:`config.campaign`) cannot see, so it lives beside the service; each is pure (the
time, the config's ids, the templates are arguments) and reports like the file check,
``c.toml:12: variables.2: …``.

What is not refused: a template a WABA has not synced yet, or that Meta is still
reviewing (or has paused). That changes without editing the file, so it is a note of the
plan, and the running campaign waits for it. A template that one WABA of the pool can
use makes the others' problems notes too: that WABA sends.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from actors.campaign.content import CampaignTemplate, prepare_template
from actors.campaign.schedule import next_open
from actors.chip.templates import TemplateBook
from actors.ports import TemplateRecord
from actors.templates.mapper import DEFAULT_ALIASES, MappingError, parse_mapping
from actors.templates.schema import Slot, TemplateSchema
from config import ConfigIssue
from config.campaign import CampaignSpec, TemplateChoice
from config.errors import ConfigSource, format_loc

__all__ = [
    "SYNC_HINT",
    "Unusable",
    "Verdict",
    "Waiting",
    "pool_issues",
    "refusal",
    "schedule_issues",
    "template_verdict",
    "verdict_note",
]

SYNC_HINT = "run `metad ctl templates sync`"

Loc = tuple[str | int, ...]


def _issue(source: ConfigSource, loc: Loc, message: str, *, at: Loc = ()) -> ConfigIssue:
    """An issue on field ``loc``, at the line of ``loc + at`` (a key inside it)."""
    return ConfigIssue(source.file, source.line((*loc, *at)), format_loc(loc), message)


# --- the pool -----------------------------------------------------------------------------


def pool_issues(
    spec: CampaignSpec,
    *,
    chips: Sequence[tuple[str, str]],
    wabas: Collection[str],
    source: ConfigSource,
) -> list[ConfigIssue]:
    """Chips and WABAs the file names that the daemon does not have (a typo would be
    ignored: the pool is whatever matches), then an empty pool.

    ``chips``: (phone_number_id, WABA) of every chip of the daemon; ``wabas``: its WABAs.
    """
    pnids = [p for p, _ in chips]
    known_chips = ", ".join(pnids) or "none"
    known_wabas = ", ".join(wabas) or "none"
    issues = [
        _issue(source, ("routing", "chips", i), f'unknown chip "{c}" (configured: {known_chips})')
        for i, c in enumerate(spec.routing.chips)
        if c not in pnids
    ]
    issues += [
        _issue(source, ("routing", "wabas", i), f'unknown WABA "{w}" (configured: {known_wabas})')
        for i, w in enumerate(spec.routing.wabas)
        if w not in wabas
    ]
    issues += [
        _issue(
            source, ("templates", i, "waba"), f'unknown WABA "{t.waba}" (configured: {known_wabas})'
        )
        for i, t in enumerate(spec.templates)
        if t.waba != "*" and t.waba not in wabas
    ]
    if not issues and not pool(spec, chips):
        issues.append(
            _issue(
                source,
                ("routing",),
                f"no chip of this daemon is in the pool: the chips {spec.routing.chips}"
                f" are in none of the WABAs {spec.routing.wabas}",
            )
        )
    return issues


def pool(spec: CampaignSpec, chips: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(phone_number_id, WABA) of every chip the campaign may use."""
    r = spec.routing
    return [
        (pnid, waba)
        for pnid, waba in chips
        if (not r.wabas or waba in r.wabas) and (not r.chips or pnid in r.chips)
    ]


# --- the schedule ---------------------------------------------------------------------------


def schedule_issues(
    spec: CampaignSpec, *, now: dt.datetime, tz: ZoneInfo, source: ConfigSource
) -> list[ConfigIssue]:
    """A schedule with no sending time left after ``now``: an end already past, or
    weekdays and hours that fall nowhere between the start and the end. Started, it
    would "finish" at once with everyone unsent."""
    s = spec.schedule
    if next_open(now, s, tz) is not None:
        return []
    if s.end is not None and _aware(s.end, tz) <= now:
        shown = s.end.isoformat(timespec="minutes")
        return [
            _issue(source, ("schedule", "end"), f"{shown} is past: the campaign could never send")
        ]
    return [
        _issue(
            source,
            ("schedule",),
            "its weekdays and hours fall nowhere between start and end:"
            " the campaign could never send",
        )
    ]


def _aware(value: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


# --- the templates --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Waiting:
    """The WABA cannot send it now, but may without an edit of the file (a sync, Meta's
    review): a note of the plan."""

    note: str


@dataclass(frozen=True, slots=True)
class Unusable:
    """The WABA can never send it as the file stands: what to fix, where."""

    issues: tuple[ConfigIssue, ...]


Verdict = CampaignTemplate | Waiting | Unusable
"""One WABA's answer for the campaign's template."""


def template_verdict(
    spec: CampaignSpec,
    waba: str,
    records: Sequence[TemplateRecord],
    *,
    columns: Collection[str],
    card_columns: Collection[str],
    source: ConfigSource,
) -> Verdict:
    """Whether ``waba`` can send the campaign's template, given its synced ``records``
    and the columns of the audience and the listings (an empty collection: not known,
    not checked)."""
    choice = spec.template_for(waba)
    if choice is None:
        return Unusable(
            (_issue(source, ("templates",), f'no [[templates]] entry for WABA {waba} nor "*"'),)
        )
    at: Loc = ("templates", spec.templates.index(choice))
    if not records:
        return Waiting(f"no templates synced for this WABA yet: {SYNC_HINT}")
    book = TemplateBook(records)
    found = _find(choice, records, source, at)
    if found is not None:
        return found
    status = book.unusable(choice.name, choice.language)
    if status is not None:
        why = " (in Meta's review: the campaign waits for it)" if status == "PENDING" else ""
        return Waiting(f"{choice.name}/{choice.language} is {status}{why}")
    try:
        schema = book.schema(choice.name, choice.language)
    except KeyError:  # Meta's definition, which metad cannot read
        return Unusable(
            (
                _issue(
                    source,
                    (*at, "name"),
                    f"metad cannot read the definition of {choice.name}/{choice.language}",
                ),
            )
        )
    issues = _slot_issues(spec, schema, columns, card_columns, source)
    if spec.carousel is None and schema.card_count:
        what = f"{choice.name}/{choice.language}"
        need = f"{what} is a carousel: the campaign needs a [carousel] of listings for its cards"
        issues.append(_issue(source, (*at, "name"), need))
    if issues:
        return Unusable(tuple(issues))
    built = prepare_template(spec, choice, records)
    if isinstance(built, str):  # what the checks above do not foresee
        return Unusable((_issue(source, ("variables",), built),))
    return built


def _find(
    choice: TemplateChoice, records: Sequence[TemplateRecord], source: ConfigSource, at: Loc
) -> Unusable | None:
    """None when the WABA has the template in its language, else where the file is wrong."""
    if any(r.name == choice.name and r.language == choice.language for r in records):
        return None
    langs = sorted({r.language for r in records if r.name == choice.name})
    if langs:
        return Unusable(
            (
                _issue(
                    source,
                    (*at, "language"),
                    f"{choice.name} has no {choice.language} version (it has {', '.join(langs)})",
                ),
            )
        )
    close = difflib.get_close_matches(choice.name, sorted({r.name for r in records}), n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return Unusable(
        (
            _issue(
                source,
                (*at, "name"),
                f'no template "{choice.name}" among the synced ones{hint}'
                f" (created since the last sync? {SYNC_HINT})",
            ),
        )
    )


def _slot_issues(
    spec: CampaignSpec,
    schema: TemplateSchema,
    columns: Collection[str],
    card_columns: Collection[str],
    source: ConfigSource,
) -> list[ConfigIssue]:
    """Slots the file maps that the template lacks, and slots the template needs that
    nothing fills (not mapped, and no column of the data under their own name)."""
    what = f"{schema.name}/{schema.language}"
    cards = dict(spec.carousel.cards) if spec.carousel else {}
    try:
        own, mapped_cards = parse_mapping(dict(spec.variables)), parse_mapping(cards)
    except MappingError:
        return []  # the file check reports it (config.campaign)
    issues = _unknown(("variables",), own, schema.names(), what, source)
    issues += _unfilled(("variables",), own, schema.slots_for(None), columns, what, source)
    if spec.carousel is not None and schema.card_count:
        issues += _unknown(("carousel", "cards"), mapped_cards, schema.names(0), what, source)
        card_slots = schema.slots_for(0)
        with_own = {*card_columns, "_id", "_payload"} if card_columns else set()
        issues += _unfilled(("carousel", "cards"), mapped_cards, card_slots, with_own, what, source)
    return issues


def _unknown(
    table: Loc, mapped: Mapping[str, object], slots: Sequence[str], what: str, source: ConfigSource
) -> list[ConfigIssue]:
    known = ", ".join(slots) or "none"
    return [
        _issue(source, (*table, key), f'{what} has no slot "{key}" (its slots: {known})')
        for key in mapped
        if key not in slots
    ]


def _unfilled(
    table: Loc,
    mapped: Mapping[str, object],
    slots: Sequence[Slot],
    columns: Collection[str],
    what: str,
    source: ConfigSource,
) -> list[ConfigIssue]:
    """A required slot the file does not map is read from a column named like it (or
    its usual aliases); with no such column every recipient would be skipped as
    "missing variable", naming no slot."""
    if not columns:
        return []
    issues: list[ConfigIssue] = []
    for slot in slots:
        names = (slot.key, *DEFAULT_ALIASES.get(slot.key, ()))
        if not slot.required or slot.key in mapped or any(n in columns for n in names):
            continue
        issues.append(
            _issue(
                source,
                (*table, slot.key),
                f"{what} needs a value for its {_kind(slot)}: map it to a column"
                f' (none is named "{slot.key}"; the columns: {", ".join(columns)})',
            )
        )
    return issues


def _kind(slot: Slot) -> str:
    """``URL button 0``, ``body variable 2``, ``header``: the slot as the template shows it."""
    if slot.component == "button":
        sub = (slot.sub_type or "").replace("_", " ")
        return f"{sub.upper() if sub == 'url' else sub} button {slot.index}"
    if slot.component == "header":
        return "header"
    return f"{slot.component} variable {slot.name or slot.position}"


def refusal(verdicts: Mapping[str, Verdict]) -> list[ConfigIssue]:
    """The issues to refuse the campaign with: only when no WABA of the pool could ever
    send it (one that can, or may once synced or approved, makes the rest notes).
    Issues the WABAs share are given once."""
    if not verdicts or not all(isinstance(v, Unusable) for v in verdicts.values()):
        return []
    out: dict[ConfigIssue, None] = {}
    for v in verdicts.values():
        assert isinstance(v, Unusable)
        out.update(dict.fromkeys(v.issues))
    return sorted(out, key=lambda i: i.line or 0)


def verdict_note(verdict: Verdict) -> str | None:
    """What the plan says of a WABA that cannot send the template (None: it can)."""
    if isinstance(verdict, Waiting):
        return verdict.note
    if isinstance(verdict, Unusable):
        return "; ".join(f"{i.field}: {i.message}" for i in verdict.issues)
    return None
