"""Campaign operations on the store: load a file, create the campaign, plan a dry run,
and the adapter that gives the coordinator actor the fleet.

Why the plan reads the store rather than asking the actors: it must work with the
daemon stopped (``metad campaign plan`` before the first start) and must never send;
the windows, templates and chips it needs are all journalled there.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.campaign.routing import ChipView, route
from actors.campaign.schedule import next_open, open_seconds_between
from actors.chip import ChipMsg, ChipSnapshot, GetSnapshot
from actors.chip.templates import TemplateBook
from actors.chip.window import WindowState
from actors.core import Address
from actors.policy.pricing import PriceTable, UnknownDestination
from actors.ports import TemplateRecord
from actors.templates.mapper import Filled, MappingError, TemplateMapper
from config import ConfigError, ConfigIssue, MetadConfig
from config.campaign import CampaignSpec, load_campaign
from config.model import CapsConfig
from daemon.campaigns.files import read_rows
from daemon.campaigns.prepare import Prepared, prepare
from daemon.campaigns.reach import budget_notes
from daemon.fleet import Fleet
from daemon.store import Store

__all__ = ["FleetAdapter", "create_campaign", "find_campaign_file", "load_prepared", "plan"]

_CLOSED = WindowState(False, False, None, None, 0.0)
_OPEN = WindowState(True, False, None, None, 3600.0)


def find_campaign_file(cfg: MetadConfig, name_or_path: str) -> Path:
    """A path as given, or ``<campaigns.dir>/<name>.toml``."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return p
    return cfg.campaigns.dir / f"{name_or_path}.toml"


def _pool(cfg: MetadConfig, spec: CampaignSpec) -> list[tuple[str, str]]:
    """(phone_number_id, WABA) of every chip the campaign may use."""
    return [
        (c.phone_number_id, c.waba)
        for c in cfg.chips
        if (not spec.routing.wabas or c.waba in spec.routing.wabas)
        and (not spec.routing.chips or c.phone_number_id in spec.routing.chips)
    ]


async def _templates(store: Store, cfg: MetadConfig, spec: CampaignSpec) -> dict[str, TemplateBook]:
    wabas = sorted({w for _, w in _pool(cfg, spec)})
    return {w: TemplateBook(await store.templates.load_templates(w)) for w in wabas}


async def load_prepared(store: Store, cfg: MetadConfig, path: Path) -> Prepared:
    """Check the file and build its recipients (ConfigError names what is wrong)."""
    spec = load_campaign(path)
    rows = read_rows(spec.audience.file) if spec.audience.file is not None else []
    listings = read_rows(spec.carousel.listings) if spec.carousel is not None else []
    card_count = 0
    if spec.carousel is not None:
        for waba, book in (await _templates(store, cfg, spec)).items():
            choice = spec.template_for(waba)
            if choice is None:
                continue
            try:
                card_count = book.schema(choice.name, choice.language).card_count
            except KeyError:
                continue
            break
    if not _pool(cfg, spec):
        raise ConfigError(
            [ConfigIssue(str(path), None, "routing", "no chip of this daemon is in the pool")]
        )
    return prepare(
        spec,
        rows=rows,
        listings=listings,
        card_count=card_count,
        opted_out=await store.campaigns.opted_out(),
        file=str(path),
    )


async def create_campaign(store: Store, prepared: Prepared, file: str) -> bool:
    """Store the campaign (state ``draft``); False when one with that name exists."""
    return await store.campaigns.create(
        campaign_id=prepared.spec.name,
        spec=prepared.stored,
        file=file,
        cap_usd=prepared.spec.limits.budget_usd,
        recipients=prepared.recipients,
    )


async def plan(
    store: Store, cfg: MetadConfig, prepared: Prepared, *, now: dt.datetime
) -> dict[str, Any]:
    """What a run would do, without sending: valid and skipped recipients (why), free
    (in a window) or paid (by category, estimated), chips, duration at allowed rates."""
    spec = prepared.spec
    pool = _pool(cfg, spec)
    books = await _templates(store, cfg, spec)
    mappers: dict[str, tuple[TemplateMapper, str] | str] = {}
    for waba, book in books.items():
        choice = spec.template_for(waba)
        if choice is None:
            mappers[waba] = "no template configured"
            continue
        status = book.unusable(choice.name, choice.language)
        try:
            schema = book.schema(choice.name, choice.language)
        except KeyError:
            mappers[waba] = f"{choice.name}/{choice.language} not found (run templates sync)"
            continue
        if status is not None:
            mappers[waba] = f"{choice.name}/{choice.language} is {status}"
            continue
        try:
            card_map = dict(spec.carousel.cards) if spec.carousel else {}
            mappers[waba] = (
                TemplateMapper(schema, dict(spec.variables), card_map),
                schema.category.lower(),
            )
        except MappingError as exc:
            mappers[waba] = str(exc)
    chips = await _chip_views(store, cfg, pool, mappers)
    prices = PriceTable.from_config(cfg.pricing)
    margin = dt.timedelta(seconds=cfg.windows.safety_margin_s)
    open_windows = await _open_windows(store, [p for p, _ in pool], now + margin)
    affinity: dict[str, str] = {}
    skipped = Counter(
        (r.reason or "").split(":")[0] for r in prepared.recipients if r.state == "skipped"
    )
    by_chip: Counter[str] = Counter()
    by_category: dict[str, Decimal] = {}
    count_category: Counter[str] = Counter()
    free = 0
    unknown_price = 0
    cards = [list(map(dict, g)) for g in prepared.cards.groups] if prepared.cards else []
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
        if chosen.chip is None:
            skipped[f"no chip: {chosen.reason}"] += 1
            continue
        mapper = mappers.get(chosen.chip.waba)
        if not isinstance(mapper, tuple):
            skipped[f"template: {mapper}"] += 1
            continue
        filled = mapper[0].fill(
            {**r.fields, "_tap": "x", "_payload": "x"}, cards[r.part] if cards else []
        )
        if not isinstance(filled, Filled):
            skipped["missing variable"] += 1
            continue
        i = index[chosen.chip.pnid]
        views[i] = views[i].with_backlog(views[i].backlog + 1)
        by_chip[chosen.chip.pnid] += 1
        window_open = (chosen.chip.pnid, r.to) in open_windows
        if window_open and spec.text is not None and not cards:
            free += 1
            continue
        category = mapper[1]
        try:
            cost = prices.estimate(r.to, category, _OPEN if window_open else _CLOSED)
        except UnknownDestination:
            unknown_price += 1
            continue
        if cost == 0:
            free += 1
        count_category[category] += 1
        by_category[category] = by_category.get(category, Decimal(0)) + cost
    sendable = sum(by_chip.values())
    rate = min(
        spec.limits.rate_per_s,
        sum(v.mps for v in chips if v.healthy(spec.intent == "marketing")) or 0.0,
    )
    duration = _duration(now, sendable / rate if rate else math.inf, spec, cfg)
    return {
        "campaign": spec.name,
        "recipients": len(prepared.audience.recipients) + len(prepared.audience.skipped),
        "messages": len([r for r in prepared.recipients if r.state == "pending"]),
        "valid": sendable,
        "skipped": sum(skipped.values()),
        "skipped_by_reason": dict(skipped),
        "free_in_window": free,
        "need_template": sendable - free,
        "by_category": {
            k: {"messages": count_category[k], "cost_usd": float(v)} for k, v in by_category.items()
        },
        "estimated_cost_usd": float(sum(by_category.values(), Decimal(0))),
        "unknown_price": unknown_price,
        "by_chip": dict(by_chip),
        "template_problems": {w: m for w, m in mappers.items() if isinstance(m, str)},
        "rate_per_s": rate,
        "cards": [len(g) for g in cards],
        "send_seconds": round(sendable / rate, 1) if rate else None,
        "expected_end": duration.isoformat(timespec="minutes") if duration else None,
        "budget_usd": spec.limits.budget_usd,
        "budget_notes": budget_notes(
            float(sum(by_category.values(), Decimal(0))),
            sum(count_category.values()),
            campaign_cap=spec.limits.budget_usd,
            caps=_period_caps(cfg, spec.name),
        ),
    }


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


def _duration(
    now: dt.datetime, seconds: float, spec: CampaignSpec, cfg: MetadConfig
) -> dt.datetime | None:
    """When ``seconds`` of sending end, counting only the schedule's open time."""
    if math.isinf(seconds):
        return None
    start = next_open(now, spec.schedule, cfg.tz)
    if start is None:
        return None
    day = start
    left = seconds
    for _ in range(366):
        nxt = day + dt.timedelta(days=1)
        available = open_seconds_between(day, nxt, spec.schedule, cfg.tz)
        if available >= left:
            # Walk forward inside this day to the exact end.
            lo, hi = day, nxt
            for _ in range(40):
                mid = lo + (hi - lo) / 2
                if open_seconds_between(day, mid, spec.schedule, cfg.tz) >= left:
                    hi = mid
                else:
                    lo = mid
            return hi
        left -= available
        day = nxt
    return None


async def _chip_views(
    store: Store,
    cfg: MetadConfig,
    pool: list[tuple[str, str]],
    mappers: Mapping[str, object],
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
                has_template=isinstance(mappers.get(waba), tuple),
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
