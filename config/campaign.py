"""Campaign files: who gets what, when, from which numbers, within what budget.

Why a file per campaign, validated like ``metad.toml``: campaigns are written by people
who are not programmers, usually in a hurry, and run unattended for days. Every mistake
the file can hold is found before the first message goes out and reported as
``campaigns/x.toml:12: schedule.hours: …``, all at once. Paths inside (audience,
listings) are relative to the campaign file.

A campaign file::

    name = "plantoes-dezembro"
    intent = "marketing"             # marketing | utility | … (the decision's intent)

    [audience]
    file = "doctors.csv"             # CSV with a phone or wa_id column, or:
    # inline = [{ phone = "5511987654321", nome = "Ana" }]
    phone_column = "telefone"        # default: the first of phone, telefone, wa_id, …
    opt_out_column = "opt_out"       # rows whose value is yes/sim/true/1 are skipped

    [[templates]]                    # one per WABA (or "*") and language
    waba = "*"
    name = "vaga_plantao"
    language = "pt_BR"

    [variables]                      # slot → column, or {column, aliases, default}
    "1" = { column = "primeiro_nome", aliases = ["nome"], default = "doutor(a)" }
    "2" = "especialidade"

    [schedule]
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    hours = "08:00-20:00"
    quiet_hours = ["12:00-13:30"]

    [limits]
    rate_per_s = 20
    budget_usd = 150.0

    [routing]
    wabas = []                       # empty: every WABA of the daemon
    strategy = "affinity"            # affinity | best_quality | round_robin
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from config.errors import ConfigError, ConfigIssue, ConfigSource, format_loc
from config.messages import describe_error
from config.model import _Model

__all__ = [
    "AudienceSpec",
    "CampaignSpec",
    "CarouselSpec",
    "LimitsSpec",
    "RoutingSpec",
    "ScheduleSpec",
    "TemplateChoice",
    "load_campaign",
    "open_spans",
    "parse_campaign",
]

_NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_ALL_DAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Slot = str
FieldRef = str | dict[str, str | list[str]]


def parse_span(text: str) -> tuple[dt.time, dt.time]:
    """``"08:00-20:00"`` → (08:00, 20:00); ``24:00`` is the end of the day."""
    m = _HHMM.match(text)
    if m is None:
        raise ValueError(f'"{text}" is not HH:MM-HH:MM')
    start = dt.time(int(m.group(1)), int(m.group(2)))
    end_h, end_m = int(m.group(3)), int(m.group(4))
    if end_h == 24 and end_m:
        raise ValueError(f'"{text}": the day ends at 24:00')
    end = dt.time.max if end_h == 24 else dt.time(end_h, end_m)
    if end <= start:
        raise ValueError(f'"{text}": the end must be after the start')
    return start, end


Span = tuple[dt.time, dt.time]


def open_spans(hours: str, quiet_hours: list[str]) -> list[Span]:
    """The parts of ``hours`` that no quiet span covers (empty: the day never opens)."""
    spans = [parse_span(hours)]
    for quiet in quiet_hours:
        spans = _subtract(spans, parse_span(quiet))
    return spans


def _subtract(spans: list[Span], cut: Span) -> list[Span]:
    out: list[Span] = []
    for start, end in spans:
        if cut[1] <= start or cut[0] >= end:
            out.append((start, end))
            continue
        if cut[0] > start:
            out.append((start, cut[0]))
        if cut[1] < end:
            out.append((cut[1], end))
    return out


class AudienceSpec(_Model):
    file: Path | None = None
    """A CSV file (UTF-8, header row); relative to the campaign file."""
    inline: list[dict[str, str | int]] = Field(default_factory=list)
    phone_column: str | None = None
    """Column holding the phone number or wa_id; default: the first of phone, telefone,
    celular, whatsapp, wa_id that the header has."""
    opt_out_column: str | None = None
    """Rows whose value here is yes/sim/true/1/x are skipped (they asked not to be
    messaged)."""
    key_column: str | None = None
    """A stable id per recipient (e.g. a CRM number); default: the normalised phone."""

    @model_validator(mode="after")
    def _one_source(self) -> AudienceSpec:
        if (self.file is None) == (not self.inline):
            raise ValueError("give either file or inline (exactly one)")
        return self


class TemplateChoice(_Model):
    waba: str = "*"
    """The WABA whose template this is, or ``*`` for every WABA that has it."""
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(default="pt_BR", min_length=2, max_length=15)


class CarouselSpec(_Model):
    listings: Path
    """CSV or JSON (a list of objects) of listings, e.g. open shifts; one card each."""
    id_column: str = "id"
    status_column: str | None = None
    open_values: list[str] = Field(default_factory=lambda: ["open", "aberta", "aberto"])
    """Listings whose status is one of these become cards; the others are left out."""
    cards: dict[Slot, FieldRef] = Field(default_factory=dict)
    """Card slot → listing column (``header`` for the image, ``1`` for the body, …)."""
    overflow: Literal["truncate", "split"] = "truncate"
    """More listings than the template has cards: send the first ones, or several
    carousels (each a message of its own) to every recipient."""
    max_messages: int = Field(default=3, ge=1, le=10)
    """With ``split``: at most this many carousels per recipient."""


class ScheduleSpec(_Model):
    start: dt.datetime | None = None
    """Not before (local time in the daemon's time zone when no offset is given)."""
    end: dt.datetime | None = None
    """Not after: what is left is reported and the campaign ends."""
    weekdays: list[Weekday] = Field(default_factory=lambda: list(_ALL_DAYS))
    hours: str = "00:00-24:00"
    quiet_hours: list[str] = Field(default_factory=list)

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        parse_span(v)
        return v

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: list[str], info: ValidationInfo) -> list[str]:
        """Each span must parse, and together they must leave some of ``hours`` open: a
        campaign quiet all day long would wait, then end with everyone unsent."""
        for span in v:
            parse_span(span)
        hours = info.data.get("hours")  # absent when hours itself is wrong
        if isinstance(hours, str) and not open_spans(hours, v):
            raise ValueError(
                f'quiet hours cover all of hours "{hours}": the campaign could never send'
            )
        return v

    @model_validator(mode="after")
    def _order(self) -> ScheduleSpec:
        if self.start and self.end and (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise ValueError("start and end must both carry a UTC offset, or neither (local time)")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        if not self.weekdays:
            raise ValueError("weekdays is empty: the campaign could never send")
        return self


class LimitsSpec(_Model):
    rate_per_s: float = Field(default=20.0, gt=0, le=10_000)
    """Messages per second for the whole campaign (the chips' own limits still apply)."""
    budget_usd: float | None = Field(default=None, ge=0)
    """The campaign's own cap; the daemon's caps apply as well."""
    max_in_flight: int = Field(default=256, ge=1, le=10_000)
    in_doubt_hold_s: float = Field(default=3600.0, ge=0)
    """A message whose fate a crash hid waits this long for its status webhook before
    the operator is asked to resend or drop it."""


class RoutingSpec(_Model):
    wabas: list[str] = Field(default_factory=list)
    """WABAs the campaign may send from; empty: all."""
    chips: list[str] = Field(default_factory=list)
    """Chips (phone_number_id) it may send from; empty: all of those WABAs."""
    strategy: Literal["affinity", "best_quality", "round_robin"] = "affinity"


class CampaignSpec(_Model):
    name: Annotated[str, Field(pattern=_NAME)]
    """The campaign's id: lower case letters, digits, ``_ . -``."""
    description: str = ""
    intent: Literal["marketing", "utility", "follow_up", "confirmation", "reminder", "update"] = (
        "marketing"
    )
    audience: AudienceSpec
    templates: list[TemplateChoice] = Field(min_length=1)
    variables: dict[Slot, FieldRef] = Field(default_factory=dict)
    text: str | None = Field(default=None, max_length=4096)
    """Free-form text sent instead of the template to contacts whose window is open
    (``{column}`` placeholders); without it everyone gets the template."""
    carousel: CarouselSpec | None = None
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    routing: RoutingSpec = Field(default_factory=RoutingSpec)

    def template_for(self, waba_id: str) -> TemplateChoice | None:
        exact = [t for t in self.templates if t.waba == waba_id]
        wild = [t for t in self.templates if t.waba == "*"]
        found = exact or wild
        return found[0] if found else None


def load_campaign(path: str | Path) -> CampaignSpec:
    """Read and check a campaign file, or raise ConfigError listing every problem.

    Paths inside it come back absolute (anchored at the file's directory), and the files
    they name must exist.
    """
    shown = str(path)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError([ConfigIssue(shown, None, "", f"cannot read: {reason}")]) from None
    return parse_campaign(text, file=shown, base_dir=file.absolute().parent)


def parse_campaign(text: str, *, file: str, base_dir: Path) -> CampaignSpec:
    from config.loader import syntax_issue

    source = ConfigSource(file=file, path=base_dir / Path(file).name, text=text)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([syntax_issue(exc, source)]) from None
    try:
        spec = CampaignSpec.model_validate(raw)
    except ValidationError as exc:
        issues = [source.issue(e["loc"], describe_error(e, CampaignSpec)) for e in exc.errors()]
        raise ConfigError(sorted(issues, key=lambda i: i.line or 0)) from None
    spec = _anchor(spec, base_dir)
    problems = _ref_issues(spec, source)
    audience = spec.audience.file
    if audience is not None and not audience.is_file():
        problems.append(source.issue(("audience", "file"), f"no such file: {audience}"))
    if spec.carousel is not None and not spec.carousel.listings.is_file():
        problems.append(
            source.issue(("carousel", "listings"), f"no such file: {spec.carousel.listings}")
        )
    if problems:
        raise ConfigError(problems)
    return spec


_REF_KEYS = ("column", "aliases", "default")


def _ref_issues(spec: CampaignSpec, source: ConfigSource) -> list[ConfigIssue]:
    """What is wrong with a slot's ``{column, aliases, default}`` written in the file.

    Why here and not left to the template mapper: the mapper finds it only once it has
    the template, per WABA, and says ``2: unknown keys ['defualt']`` in a plan note while
    every recipient is skipped; the mistake is in the file, so it is reported at its line
    like any other."""
    tables: list[tuple[tuple[str, ...], dict[Slot, FieldRef]]] = [(("variables",), spec.variables)]
    if spec.carousel is not None:
        tables.append((("carousel", "cards"), spec.carousel.cards))
    return [
        ConfigIssue(source.file, source.line((*table, slot, *key)), format_loc((*table, slot)), why)
        for table, refs in tables
        for slot, ref in refs.items()
        for key, why in _ref_problems(ref)
    ]


def _ref_problems(ref: FieldRef) -> list[tuple[tuple[str, ...], str]]:
    """(the key at fault, or none, and why) for one slot's reference."""
    if isinstance(ref, str):
        return [] if ref.strip() else [((), "the column name is empty")]
    known = ", ".join(_REF_KEYS)
    out: list[tuple[tuple[str, ...], str]] = [
        ((k,), f'unknown key "{k}" (a slot takes {known})') for k in ref if k not in _REF_KEYS
    ]
    column, aliases, default = ref.get("column"), ref.get("aliases"), ref.get("default")
    if column is not None and (not isinstance(column, str) or not column.strip()):
        out.append((("column",), "column must be a column name"))
    if aliases is not None and (
        not isinstance(aliases, list) or not all(a.strip() for a in aliases)
    ):
        out.append((("aliases",), "aliases must be a list of column names"))
    if default is not None and (not isinstance(default, str) or not default.strip()):
        # A blank default would be sent as an empty parameter, which Meta refuses.
        out.append((("default",), "default must be a text that is not blank"))
    return out


def _anchor(spec: CampaignSpec, base: Path) -> CampaignSpec:
    def path(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    update: dict[str, object] = {}
    if spec.audience.file is not None:
        update["audience"] = spec.audience.model_copy(update={"file": path(spec.audience.file)})
    if spec.carousel is not None:
        update["carousel"] = spec.carousel.model_copy(
            update={"listings": path(spec.carousel.listings)}
        )
    return spec.model_copy(update=update)
