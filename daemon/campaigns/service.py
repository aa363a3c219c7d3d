"""Campaign operations on the store: load a file, create the campaign, plan a dry run,
and the adapter that gives the coordinator actor the fleet.

Why the plan reads the store rather than asking the actors: it must work with the
daemon stopped (``metad campaign plan`` before the first start) and must never send;
the windows, templates and chips it needs are all journalled there.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.campaign.content import CampaignTemplate
from actors.campaign.routing import ChipView, route
from actors.campaign.schedule import sending_ends
from actors.chip import ChipMsg, ChipSnapshot, GetSnapshot
from actors.chip.templates import TemplateBook
from actors.chip.window import WindowState
from actors.core import Address
from actors.policy.pricing import PriceTable, UnknownDestination
from actors.ports import TemplateRecord
from actors.templates.mapper import Filled
from config import ConfigError, ConfigIssue, MetadConfig
from config.campaign import CampaignSpec, load_campaign
from config.errors import ConfigSource
from config.model import CapsConfig
from daemon.campaigns.checks import (
    SYNC_HINT,
    Verdict,
    pool,
    pool_issues,
    refusal,
    schedule_issues,
    template_verdict,
    verdict_note,
)
from daemon.campaigns.files import read_rows, read_table
from daemon.campaigns.prepare import Prepared, audience_rows, columns_of, prepare
from daemon.campaigns.reach import budget_notes
from daemon.fleet import Fleet
from daemon.store import Store

__all__ = ["FleetAdapter", "create_campaign", "find_campaign_file", "load_prepared", "plan"]

_CLOSED = WindowState(False, False, None, None, 0.0)
_OPEN = WindowState(True, False, None, None, 3600.0)


def find_campaign_file(cfg: MetadConfig, name_or_path: str) -> Path:
    """A path as given, or the campaign of that name in the campaigns directory."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return p
    return campaign_file_in(cfg.campaigns.dir, name_or_path)


def campaign_file_in(directory: Path, name: str) -> Path:
    """The file of ``directory`` that declares ``name = NAME``, or ``<NAME>.toml``.

    Why by the declared name: ``list`` and ``status`` show a campaign by its ``name``,
    and ``demo_carousel.toml`` holds ``demo-carousel``; an operator who copies the name
    from there must find the file. ``<NAME>.toml`` wins when it declares the name too
    (or when no file does: its own errors then say what is wrong)."""
    exact = directory / f"{name}.toml"
    declaring = [path for path, declared in declared_names(directory) if declared == name]
    if not declaring or exact in declaring:
        return exact
    return declaring[0]


def declared_names(directory: Path) -> list[tuple[Path, str]]:
    """(file, its ``name``) of each campaign file in ``directory`` that can be read,
    by file name; the others are left to their own errors."""
    out: list[tuple[Path, str]] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            name = tomllib.loads(path.read_text(encoding="utf-8")).get("name")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        if isinstance(name, str):
            out.append((path, name))
    return out


def _chips(cfg: MetadConfig) -> list[tuple[str, str]]:
    return [(c.phone_number_id, c.waba) for c in cfg.chips]


def _pool(cfg: MetadConfig, spec: CampaignSpec) -> list[tuple[str, str]]:
    """(phone_number_id, WABA) of every chip the campaign may use."""
    return pool(spec, _chips(cfg))


async def _records(
    store: Store, cfg: MetadConfig, spec: CampaignSpec
) -> dict[str, list[TemplateRecord]]:
    """The synced templates of each WABA of the campaign's pool."""
    wabas = sorted({w for _, w in _pool(cfg, spec)})
    return {w: await store.templates.load_templates(w) for w in wabas}


def _verdicts(
    spec: CampaignSpec,
    records: Mapping[str, list[TemplateRecord]],
    *,
    columns: Sequence[str],
    card_columns: Sequence[str],
    source: ConfigSource,
) -> dict[str, Verdict]:
    return {
        waba: template_verdict(
            spec, waba, recs, columns=columns, card_columns=card_columns, source=source
        )
        for waba, recs in records.items()
    }


def _source(path: Path) -> ConfigSource:
    """The campaign file's text, to give later checks its lines (none if it is gone)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    return ConfigSource(file=str(path), path=path.absolute(), text=text)


def _card_count(spec: CampaignSpec, records: Mapping[str, list[TemplateRecord]]) -> int | None:
    """The cards of the campaign's template in the first WABA that has it synced (any
    status: the cards do not wait for the review); None when none has it."""
    for waba, recs in records.items():
        choice = spec.template_for(waba)
        if choice is None:
            continue
        try:
            return TemplateBook(recs).schema(choice.name, choice.language).card_count
        except KeyError:
            continue
    return None


async def load_prepared(
    store: Store, cfg: MetadConfig, path: Path, *, now: dt.datetime | None = None
) -> Prepared:
    """Check the file and build its recipients, or raise ConfigError naming everything
    that would keep it from ever sending: the file, its data, its pool, its schedule
    from ``now`` (the clock when not given) and its template in every WABA of the pool.
    """
    _must_exist(cfg, path)
    spec = load_campaign(path)
    source = _source(path)
    in_pool = pool_issues(spec, chips=_chips(cfg), wabas=[w.id for w in cfg.wabas], source=source)
    issues = in_pool + schedule_issues(
        spec, now=now if now is not None else dt.datetime.now(dt.UTC), tz=cfg.tz, source=source
    )
    audience = read_table(spec.audience.file) if spec.audience.file is not None else None
    rows = audience.rows if audience is not None else []
    listings = read_rows(spec.carousel.listings) if spec.carousel is not None else []
    records = await _records(store, cfg, spec)
    verdicts = _verdicts(
        spec,
        records,
        columns=columns_of(audience_rows(spec, rows)),
        card_columns=columns_of(listings),
        source=source,
    )
    refused = [] if in_pool else refusal(verdicts)  # a typo in the pool explains them
    issues += refused
    card_count = _card_count(spec, records)
    if spec.carousel is not None and card_count is None:
        if not refused:  # every WABA waits for a sync: the cards cannot be counted yet
            choice = spec.templates[0]
            issues.append(
                source.issue(
                    ("carousel",),
                    f"the cards cannot be planned before {choice.name}/{choice.language}"
                    f" is synced: {SYNC_HINT}",
                )
            )
        raise ConfigError(_in_order(issues))
    try:
        prepared = prepare(
            spec,
            rows=rows,
            listings=listings,
            card_count=card_count or 0,
            opted_out=await store.campaigns.opted_out(),
            file=str(path),
            lines=audience.lines if audience is not None else None,
        )
    except ConfigError as exc:
        issues += exc.issues
    if issues:
        raise ConfigError(_in_order(issues))
    return prepared


def _must_exist(cfg: MetadConfig, path: Path) -> None:
    """A campaign file that is not there, with the campaigns there are (by name)."""
    if path.is_file():
        return
    names = ", ".join(n for _, n in declared_names(cfg.campaigns.dir)) or "none"
    message = f"cannot read: no such file (the campaigns in {cfg.campaigns.dir}: {names})"
    raise ConfigError([ConfigIssue(str(path), None, "", message)])


def _in_order(issues: Sequence[ConfigIssue]) -> list[ConfigIssue]:
    """Each issue once, by line (the checks that found them may overlap)."""
    return sorted(dict.fromkeys(issues), key=lambda i: i.line or 0)


async def create_campaign(store: Store, prepared: Prepared, file: str) -> bool:
    """Store the campaign (state ``draft``); False when one with that name exists."""
    return await store.campaigns.create(
        campaign_id=prepared.spec.name,
        spec=prepared.stored,
        file=file,
        cap_usd=prepared.spec.limits.budget_usd,
        recipients=prepared.recipients,
    )


@dataclass(slots=True)
class _Tally:
    """What the plan counts while it routes and prices each message."""

    listing: bool = False
    """Keep each skipped row (``--skipped``); else only the counts."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Skipped rows and messages by the reason's kind."""
    rows: dict[tuple[int, str], str] = field(default_factory=dict)
    """(row, reason) → the phone as given, for ``--skipped`` (a row once per reason,
    whatever its carousel parts)."""
    by_chip: Counter[str] = field(default_factory=Counter)
    by_category: dict[str, Decimal] = field(default_factory=dict)
    count_category: Counter[str] = field(default_factory=Counter)
    free: int = 0
    unknown_price: int = 0

    def skip(self, kind: str, row: int, phone: str, reason: str) -> None:
        self.skipped[kind] += 1
        if self.listing:
            self.rows.setdefault((row, reason), phone)

    @property
    def cost(self) -> Decimal:
        return sum(self.by_category.values(), Decimal(0))


async def plan(
    store: Store,
    cfg: MetadConfig,
    prepared: Prepared,
    *,
    now: dt.datetime,
    list_skipped: bool = False,
) -> dict[str, Any]:
    """What a run would do, without sending: valid and skipped recipients (why), free
    (in a window) or paid (by category, estimated), chips, duration at allowed rates.
    ``list_skipped`` adds each skipped row: where it is, its phone as given, why."""
    spec = prepared.spec
    members = _pool(cfg, spec)
    cards = [list(map(dict, g)) for g in prepared.cards.groups] if prepared.cards else []
    verdicts = _verdicts(
        spec,
        await _records(store, cfg, spec),
        columns=prepared.origin.columns,
        card_columns=columns_of([row for g in cards for row in g]),
        source=ConfigSource(file="", path=Path(), text=""),  # notes name no line
    )
    templates = {w: v for w, v in verdicts.items() if isinstance(v, CampaignTemplate)}
    chips = await _chip_views(store, cfg, members, templates)
    margin = dt.timedelta(seconds=cfg.windows.safety_margin_s)
    open_windows = await _open_windows(store, [p for p, _ in members], now + margin)
    tally = _Tally(listing=list_skipped)
    for r in prepared.recipients:
        if r.state == "skipped":
            reason = r.reason or ""
            tally.skip(reason.split(":")[0], r.seq, prepared.given.get(r.seq, ""), reason)
    _route_all(prepared, chips, templates, cards, open_windows, tally, cfg)
    sendable = sum(tally.by_chip.values())
    rate = min(
        spec.limits.rate_per_s,
        sum(v.mps for v in chips if v.healthy(spec.intent == "marketing")) or 0.0,
    )
    duration = sending_ends(now, sendable / rate if rate else math.inf, spec.schedule, cfg.tz)
    out = {
        "campaign": spec.name,
        "recipients": len(prepared.audience.recipients) + len(prepared.audience.skipped),
        "messages": len([r for r in prepared.recipients if r.state == "pending"]),
        "valid": sendable,
        "skipped": sum(tally.skipped.values()),
        "skipped_by_reason": dict(tally.skipped),
        "free_in_window": tally.free,
        "need_template": sendable - tally.free,
        "by_category": {
            k: {"messages": tally.count_category[k], "cost_usd": float(v)}
            for k, v in tally.by_category.items()
        },
        "estimated_cost_usd": float(tally.cost),
        "unknown_price": tally.unknown_price,
        "by_chip": dict(tally.by_chip),
        "template_problems": {
            w: note for w, v in verdicts.items() if (note := verdict_note(v)) is not None
        },
        "rate_per_s": rate,
        "cards": [len(g) for g in cards],
        "listings": _listings(prepared),
        "send_seconds": round(sendable / rate, 1) if rate else None,
        "expected_end": duration.isoformat(timespec="minutes") if duration else None,
        "budget_usd": spec.limits.budget_usd,
        "budget_notes": budget_notes(
            float(tally.cost),
            sum(tally.count_category.values()),
            campaign_cap=spec.limits.budget_usd,
            caps=_period_caps(cfg, spec.name),
        ),
    }
    if list_skipped:
        out["skipped_rows"] = _skipped_rows(prepared, tally)
    return out


def _route_all(
    prepared: Prepared,
    chips: list[ChipView],
    templates: Mapping[str, CampaignTemplate],
    cards: list[list[dict[str, object]]],
    open_windows: set[tuple[str, str]],
    tally: _Tally,
    cfg: MetadConfig,
) -> None:
    """Route, fill and price every pending message as the run would, into ``tally``."""
    spec = prepared.spec
    prices = PriceTable.from_config(cfg.pricing)
    phone = prepared.origin.phone_column
    affinity: dict[str, str] = {}
    # Each chip's view with what the plan has handed it so far (its backlog): only the
    # chosen chip's changes per recipient, so only its view is replaced.
    views = list(chips)  # built with backlog 0
    index = {v.pnid: i for i, v in enumerate(views)}
    for turn, r in enumerate(x for x in prepared.recipients if x.state == "pending"):
        chosen = route(
            r.to,
            views,
            affinity=affinity,
            strategy=spec.routing.strategy,
            marketing=spec.intent == "marketing",
            turn=turn,
        )
        tpl = templates.get(chosen.chip.waba) if chosen.chip is not None else None
        if chosen.chip is None or tpl is None:
            why = f"no chip: {chosen.reason}"
            tally.skip(why, r.seq, r.fields.get(phone, r.to), why)
            continue
        filled = tpl.mapper.fill(
            {**r.fields, "_tap": "x", "_payload": "x"}, cards[r.part] if cards else []
        )
        if not isinstance(filled, Filled):
            kind = f"missing variable: {', '.join(filled.names)}"
            given = r.fields.get(phone, r.to)
            tally.skip(kind, r.seq, given, f"missing variable: {filled.reason}")
            continue
        i = index[chosen.chip.pnid]
        views[i] = views[i].with_backlog(views[i].backlog + 1)
        tally.by_chip[chosen.chip.pnid] += 1
        window_open = (chosen.chip.pnid, r.to) in open_windows
        if window_open and spec.text is not None and not cards:
            tally.free += 1
            continue
        try:
            cost = prices.estimate(r.to, tpl.category, _OPEN if window_open else _CLOSED)
        except UnknownDestination:
            tally.unknown_price += 1
            continue
        if cost == 0:
            tally.free += 1
        tally.count_category[tpl.category] += 1
        tally.by_category[tpl.category] = tally.by_category.get(tpl.category, Decimal(0)) + cost


def _listings(prepared: Prepared) -> dict[str, Any] | None:
    """What became of the carousel's listings: the plan showed the cards it sent and
    kept quiet about those closed or left out (beyond ``max_messages``, or a last group
    too small for the template)."""
    c, spec = prepared.cards, prepared.spec.carousel
    if c is None or spec is None:
        return None
    return {
        "used": sum(len(g) for g in c.groups),
        "closed": c.closed,
        "left_out": c.left_out,
        "overflow": spec.overflow,
        "max_messages": spec.max_messages,
    }


def _skipped_rows(prepared: Prepared, tally: _Tally) -> list[dict[str, Any]]:
    """Each skipped row once per reason, in file order."""
    return [
        {"row": row, "at": prepared.origin.where(row), "phone": phone, "reason": reason}
        for (row, reason), phone in sorted(tally.rows.items())
    ]


def _period_caps(cfg: MetadConfig, campaign: str) -> CapsConfig:
    """Per period, the least of the fleet's cap and a ``[[budget.campaigns]]`` cap on this
    campaign: the one it meets first."""
    own = [b for b in cfg.budget.campaigns if b.campaign == campaign]

    def least(field: str) -> float | None:
        caps = [getattr(c, field) for c in (cfg.budget, *own)]
        known = [c for c in caps if c is not None]
        return min(known) if known else None

    return CapsConfig(
        daily_usd=least("daily_usd"),
        weekly_usd=least("weekly_usd"),
        monthly_usd=least("monthly_usd"),
    )


async def _chip_views(
    store: Store,
    cfg: MetadConfig,
    pool: list[tuple[str, str]],
    templates: Mapping[str, CampaignTemplate],
) -> list[ChipView]:
    views = []
    for pnid, waba in pool:
        rec = await store.chips.load(pnid)
        chip_cfg = next(c for c in cfg.chips if c.phone_number_id == pnid)
        views.append(
            ChipView(
                pnid=pnid,
                waba=waba,
                quality=rec.quality_rating if rec else "UNKNOWN",
                mode="FULL",
                paused=bool(rec and rec.paused),
                draining=False,
                mps=float(rec.throughput_mps if rec else chip_cfg.throughput_mps),
                backlog=0,
                has_template=waba in templates,
            )
        )
    return views


async def _open_windows(store: Store, chips: list[str], until: dt.datetime) -> set[tuple[str, str]]:
    rows = await store.fetch(
        "SELECT chip, wa_id FROM windows WHERE kind = 'service' AND chip = ANY($1::text[])"
        " AND expires_at > $2",
        chips,
        until,
    )
    return {(r["chip"], r["wa_id"]) for r in rows}


class FleetAdapter:
    """The coordinator's view of the fleet: chips, their snapshots, WABA templates."""

    def __init__(self, fleet: Fleet, store: Store, cfg: MetadConfig) -> None:
        self._fleet = fleet
        self._store = store
        self._cfg = cfg

    def chips(self) -> Mapping[str, tuple[str, Address[ChipMsg]]]:
        out: dict[str, tuple[str, Address[ChipMsg]]] = {}
        for c in self._cfg.chips:
            address = self._fleet.find_chip(c.phone_number_id)
            if address is not None:
                out[c.phone_number_id] = (c.waba, address)
        return out

    async def snapshot(self, pnid: str) -> ChipSnapshot:
        snap: ChipSnapshot = await self._fleet.chip(pnid).call(
            lambda r: GetSnapshot(reply=r), timeout=2.0
        )
        return snap

    async def templates(self, waba_id: str) -> list[TemplateRecord]:
        return await self._store.templates.load_templates(waba_id)
