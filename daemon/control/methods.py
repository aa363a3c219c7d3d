"""The control methods: name → handler. What ``metad ctl`` and the console may ask.

Why one table: the socket server, ``metad ctl`` and the console agree on names and
shapes here (documented in :mod:`daemon.control.protocol`'s module and the README), and a
method that does not exist is a clear ``method not found``, never a silent no-op.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from actors.budget.messages import GetBudget
from actors.campaign.coordinator import CampaignMsg
from actors.chip import ChipSnapshot, Drain, GetSnapshot, Pause, Refused, Resume, Send, Sent
from actors.core import ActorCrashed, ActorStopped, Address, CallTimeout
from actors.waba import GetTemplates, SyncTemplates
from config import MetadConfig
from daemon.bus import Bus
from daemon.control.campaigns import CAMPAIGN_METHODS
from daemon.fleet import Fleet
from daemon.graph import GraphClient
from daemon.store import Store

__all__ = ["METHODS", "ControlContext", "MethodError", "chip_dict", "refresh_daily"]

VERSION = "0.1.0"

DAILY_EVERY_S = 5.0
DAILY_COST_SHARE = 0.1
"""At most this share of the time goes to the console's daily figures: they are kept for
``DAILY_EVERY_S`` or ten times as long as their query took, whichever is longer. The
query reads every outbox row of the day (and its settlement): at a million messages a
day, once every 5 s would keep PostgreSQL busy for the console's sake. The same rule as
the campaign coordinator's progress counts (``PROGRESS_COST_SHARE`` in
:mod:`actors.campaign.coordinator`), mirrored rather than shared: the rule is two lines,
and a helper for both would be a new module that actors and daemon both import."""


class MethodError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


INVALID_PARAMS, UNAVAILABLE, REFUSED = -32602, -32001, -32002


@dataclass(slots=True)
class ControlContext:
    cfg: MetadConfig
    fleet: Fleet
    store: Store
    bus: Bus
    webhook_url: str = ""
    sim_url: str = ""
    started_at: float = field(default_factory=time.time)
    statuses: Callable[[], int] = lambda: 0
    """Status events applied so far (the inbox processor's count)."""
    daily: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Per chip: (messages sent today, cost today in USD), refreshed by the publisher."""
    daily_due: float = float("-inf")
    """When (``trio.current_time()``) the daily figures may be counted again."""
    graph: GraphClient | None = None
    """For management calls (template creation); None in tests that need none."""
    campaigns: Address[CampaignMsg] | None = None
    """The campaign coordinator (``campaign.*`` calls); None when it is not running."""
    reload: Callable[[], Awaitable[dict[str, Any]]] | None = None
    """Re-read and apply the config file (the daemon's reloader); None: not offered."""
    cluster: Any = None
    """This daemon's :class:`daemon.cluster.Leases` (chips owned elsewhere); None: alone."""
    store_check: Callable[[], Awaitable[str | None]] | None = None
    """Why the store does not answer now, or None (a bounded ``SELECT 1``: the daemon's
    :class:`daemon.health.StoreProbe`); None: calls are never told the store hangs."""


def chip_dict(snap: ChipSnapshot, daily: tuple[int, float] = (0, 0.0)) -> dict[str, Any]:
    r = snap.record
    return {
        "phone_number_id": r.phone_number_id,
        "display_number": r.display_number,
        "waba_id": r.waba_id,
        "quality_rating": r.quality_rating,
        "status": r.status,
        "tier": r.messaging_limit_tier,
        "mode": snap.mode,
        "policy": snap.policy,
        "paused": r.paused,
        "pause_reason": r.pause_reason,
        "draining": snap.draining,
        "open_windows": snap.open_windows,
        "queued": snap.queued,
        "in_flight": snap.in_flight,
        "mps": round(snap.mps, 2),
        "mps_limit": r.throughput_mps,
        "tier_used": snap.tier_used,
        "tier_limit": snap.tier_limit,
        "restarts": snap.restarts,
        "accepted": snap.accepted,
        "failed": snap.failed,
        "sent_today": daily[0],
        "cost_today_usd": daily[1],
    }


def _param(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise MethodError(INVALID_PARAMS, f"missing or invalid parameter {name!r}")
    return value


async def _guard(coro: Awaitable[Any]) -> Any:
    try:
        return await coro
    except (ActorCrashed, ActorStopped, CallTimeout) as exc:
        raise MethodError(UNAVAILABLE, str(exc)) from None


DAILY_SQL = (
    "SELECT o.chip, count(*) AS sent, coalesce(sum(l.amount), 0)::float8 AS cost"
    " FROM outbox o LEFT JOIN LATERAL (SELECT amount_usd AS amount FROM budget_ledger b"
    "   WHERE b.outbox_id = o.id AND b.kind = 'settlement' ORDER BY b.id DESC LIMIT 1) l"
    " ON true"
    " WHERE o.created_at >= $1 AND o.state IN ('accepted', 'sent', 'delivered', 'read')"
    " GROUP BY o.chip"
)
"""Today's rows come from ``outbox_created_at_idx`` (migration 0010), each one's latest
settlement (a second price replaces the first, as in the ledger) from
``budget_ledger_outbox_id_idx``: the work grows with the day, not with the
outbox's history. One grouped join over the ledger instead of the per-row lookup would
have to read every settlement ever booked (a ledger row's ``at`` is the daemon's clock,
not a safe bound for "today's rows"), which EXPLAIN showed to be slower already at a
month of history."""


async def refresh_daily(ctx: ControlContext) -> bool:
    """Sends and cost per chip since local midnight in the configured time zone.

    Counted again only when the last count is due (see ``DAILY_COST_SHARE``); returns
    whether it counted. Until then ``ctx.daily`` keeps the last figures."""
    at = trio.current_time()
    if at < ctx.daily_due:
        return False
    midnight = dt.datetime.now(ctx.cfg.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        rows = await ctx.store.fetch(DAILY_SQL, midnight)
    finally:
        took = trio.current_time() - at
        ctx.daily_due = at + max(DAILY_EVERY_S, took / DAILY_COST_SHARE)
    ctx.daily = {r["chip"]: (int(r["sent"]), float(r["cost"])) for r in rows}
    return True


async def chips(ctx: ControlContext) -> list[dict[str, Any]]:
    await refresh_daily(ctx)  # when due: without a console, nothing else counts them
    snap = await _guard(ctx.fleet.snapshot())
    return [chip_dict(c, ctx.daily.get(c.record.phone_number_id, (0, 0.0))) for c in snap.chips]


async def _elsewhere(ctx: ControlContext, here: set[str]) -> list[dict[str, Any]]:
    """Chips whose actors run on another node: their stored record and owner."""
    leases = ctx.cluster
    if leases is None:
        return []
    rows = await ctx.store.fetch(
        "SELECT phone_number_id, waba_id, display_number, status, quality_rating,"
        " messaging_limit_tier, throughput_mps, paused, pause_reason FROM chips"
        " WHERE NOT (phone_number_id = ANY($1::text[]))",
        sorted(here),
    )
    stored = {r["phone_number_id"]: r for r in rows}
    out: list[dict[str, Any]] = []
    for c in ctx.cfg.chips:
        if c.phone_number_id in here:
            continue
        r = stored.get(c.phone_number_id)
        out.append(
            {
                "phone_number_id": c.phone_number_id,
                "display_number": c.display_number,
                "waba_id": c.waba,
                "quality_rating": r["quality_rating"] if r else "UNKNOWN",
                "status": r["status"] if r else "UNKNOWN",
                "tier": r["messaging_limit_tier"] if r else None,
                "paused": bool(r["paused"]) if r else False,
                "pause_reason": r["pause_reason"] if r else None,
                "mode": "elsewhere",
                "policy": None,
                "draining": False,
                "open_windows": 0,
                "queued": 0,
                "in_flight": 0,
                "mps": 0.0,
                "mps_limit": c.throughput_mps,
                "tier_used": 0,
                "tier_limit": None,
                "restarts": 0,
                "accepted": 0,
                "failed": 0,
                "owner": leases.owner(c.phone_number_id),
                "sent_today": ctx.daily.get(c.phone_number_id, (0, 0.0))[0],
                "cost_today_usd": ctx.daily.get(c.phone_number_id, (0, 0.0))[1],
            }
        )
    return out


async def status_snapshot(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    await refresh_daily(ctx)  # when due: without a console, nothing else counts them
    snap = await _guard(ctx.fleet.snapshot())
    local = [chip_dict(c, ctx.daily.get(c.record.phone_number_id, (0, 0.0))) for c in snap.chips]
    node = ctx.cluster.node_id if ctx.cluster is not None else None
    for chip in local:
        chip["owner"] = node
    return {
        "daemon": {
            "version": VERSION,
            "webhook_url": ctx.webhook_url,
            "sim_url": ctx.sim_url,
            "uptime_s": round(time.time() - ctx.started_at, 1),
            "node_id": node,
            "leader": ctx.cluster.leader if ctx.cluster is not None else None,
            "nodes": sorted(ctx.cluster.nodes) if ctx.cluster is not None else [],
        },
        "chips": local + await _elsewhere(ctx, {c["phone_number_id"] for c in local}),
        "wabas": [
            {
                "waba_id": w.record.waba_id,
                "name": w.record.name,
                "restricted": w.record.restricted,
                "chips": list(w.chips),
            }
            for w in snap.wabas
        ],
        "webhooks": await webhooks_stats(ctx, {}),
    }


def _local_chip(ctx: ControlContext, pnid: str) -> Address[Any]:
    """The actor of chip ``pnid`` on this node; refused with where it runs otherwise.

    Why not just "unknown chip": with several nodes, ``ctl status`` on any of them lists
    every chip with its owner, and an action on one of another node's chips said the
    chip was unknown."""
    address = ctx.fleet.find_chip(pnid)
    if address is not None:
        return address
    configured = [c.phone_number_id for c in ctx.cfg.chips]
    if pnid not in configured:
        raise MethodError(REFUSED, f"unknown chip {pnid} (configured: {', '.join(configured)})")
    owner = ctx.cluster.owner(pnid) if ctx.cluster is not None else None
    if owner is not None and owner == ctx.cluster.node_id:
        # This node's lease, its actor stopped: a lease that could not be renewed (the
        # store not answering) or a restart. "Ask that node's daemon" named this one.
        raise MethodError(
            UNAVAILABLE,
            f"chip {pnid} is not running on this node right now (its lease is"
            " being renewed, or its actor restarts): try again shortly",
        )
    if owner is not None:
        raise MethodError(REFUSED, f"chip {pnid} runs on node {owner}: ask that node's daemon")
    raise MethodError(REFUSED, f"chip {pnid} runs on no node right now (not leased, or starting)")


def _chip_call(build: Callable[[Any], Any]) -> Callable[[ControlContext, dict[str, Any]], Any]:
    async def handler(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
        pnid = _param(params, "phone_number_id")
        address = _local_chip(ctx, pnid)
        await _guard(address.call(lambda r: build((params, r))))
        snap: ChipSnapshot = await _guard(address.call(lambda r: GetSnapshot(reply=r)))
        return chip_dict(snap, ctx.daily.get(pnid, (0, 0.0)))

    return handler


def _test_template(template: str, body: Any) -> dict[str, Any]:
    """``NAME:LANG`` and the body parameters in order, as the Cloud API takes them (a
    template with variables could not be tried from ``ctl send-test`` before)."""
    if not isinstance(body, list) or not all(isinstance(v, str) for v in body):
        raise MethodError(INVALID_PARAMS, "params must be a list of strings")
    name, _, lang = template.partition(":")
    out: dict[str, Any] = {"name": name, "language": {"code": lang or "en_US"}}
    if body:
        parameters = [{"type": "text", "text": v} for v in body]
        out["components"] = [{"type": "body", "parameters": parameters}]
    return out


async def send_test(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    pnid, to = _param(params, "chip"), _param(params, "to")
    address = _local_chip(ctx, pnid)
    text, template = params.get("text"), params.get("template")
    if not text and not template:
        raise MethodError(INVALID_PARAMS, "give text, template (name:language) or both")
    content = {"type": "text", "text": {"body": str(text)}} if text else None
    tpl = _test_template(str(template), params.get("params", [])) if template else None
    result = await _guard(
        address.call(lambda r: Send(to=to, content=content, template=tpl, reply=r), timeout=60)
    )
    if isinstance(result, Sent):
        return {
            "result": "sent",
            "outbox_id": result.outbox_id,
            "wamid": result.wamid,
            "method": result.method,
            "reason": "",
        }
    if isinstance(result, Refused):
        return {
            "result": "refused",
            "outbox_id": result.outbox_id,
            "wamid": None,
            "reason": result.reason,
        }
    return {
        "result": "uncertain",
        "outbox_id": result.outbox_id,
        "wamid": None,
        "reason": result.reason,
    }


async def budget_status(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """Spent, reserved and cap per period (day, week, month) in the configured zone, and
    ``alert_at`` (the configured alert thresholds: the console marks them on its gauges)."""
    status: dict[str, Any] = await _guard(ctx.fleet.budget.call(lambda r: GetBudget(reply=r)))
    for row in status.values():
        if isinstance(row, dict):
            row.setdefault("alert_at", [str(a) for a in ctx.cfg.budget.alert_at])
    return status


async def templates_sync(ctx: ControlContext, params: dict[str, Any]) -> dict[str, int]:
    """Fetch every WABA's templates from Meta now; how many each has."""
    counts: dict[str, int] = {}
    for waba_id in ctx.fleet.waba_ids:
        counts[waba_id] = await _guard(
            ctx.fleet.waba(waba_id).call(lambda r: SyncTemplates(reply=r), timeout=60)
        )
    return counts


async def templates_list(ctx: ControlContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for waba_id in ctx.fleet.waba_ids:
        records = await _guard(ctx.fleet.waba(waba_id).call(lambda r: GetTemplates(reply=r)))
        out += [
            {
                "waba_id": t.waba_id,
                "name": t.name,
                "language": t.language,
                "category": t.category,
                "status": t.status,
                "quality": t.quality,
                "reason": t.reason,
            }
            for t in records
        ]
    return out


async def templates_report(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """Per template (or ``by`` chip / campaign) over ``days`` (7): what the sends achieved,
    the latest stored recommendations, and the Marketing Messages API's metrics.
    ``per_waba``: a template's rows per WABA (with ``waba_id``), as the console lists
    templates; a name is often in several WABAs, each with its own results."""
    from daemon.store.analytics import (
        GROUPINGS,
        MAX_REPORT_DAYS,
        marketing_messages_report,
        report,
        waba_template_report,
    )
    from daemon.store.recommendations import RecommendationRepository

    by, days = params.get("by", "template"), params.get("days", 7)
    per_waba = params.get("per_waba", False)
    if (
        by not in GROUPINGS
        or not isinstance(days, int)
        or isinstance(days, bool)
        or not 1 <= days <= MAX_REPORT_DAYS
    ):
        raise MethodError(
            INVALID_PARAMS, f"by is one of {', '.join(GROUPINGS)}; days 1..{MAX_REPORT_DAYS}"
        )
    if not isinstance(per_waba, bool) or (per_waba and by != "template"):
        raise MethodError(INVALID_PARAMS, "per_waba is a boolean, and only with by template")
    now = dt.datetime.now(dt.UTC)
    if per_waba:
        rows = await waba_template_report(ctx.store, days=days, now=now)
    else:
        rows = await report(ctx.store, by=by, days=days, now=now)
    return {
        "by": by,
        "days": days,
        "rows": rows,
        "recommendations": await RecommendationRepository(ctx.store).latest(),
        "marketing_messages": await marketing_messages_report(ctx.store, days=days, now=now),
    }


async def webhooks_stats(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    return dataclasses.asdict(await ctx.store.inbox.stats())


async def config_reload(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """Re-read the config file and apply it, as SIGHUP does: ``applied`` false and the
    ``file:line: field: problem`` lines in ``errors`` when it is invalid (nothing changes)."""
    if ctx.reload is None:
        raise MethodError(UNAVAILABLE, "this daemon does not offer config reloads")
    return await ctx.reload()


Handler = Callable[[ControlContext, dict[str, Any]], Awaitable[Any]]


async def quality_history(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """Every chip's rating changes over the last ``minutes`` (60, at most a day), oldest
    first, from the chips' journal: a console that just connected draws its quality
    timeline from them instead of from the current rating alone."""
    minutes = params.get("minutes", 60)
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 1440:
        raise MethodError(INVALID_PARAMS, "minutes is a whole number from 1 to 1440")
    rows = await ctx.store.chip_journal.rating_changes(time.time() - minutes * 60)
    return {"changes": [dataclasses.asdict(r) for r in rows]}


async def events_recent(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """The happenings the bus kept (actor crashes, budget alerts, warnings, reloads,
    taps), oldest first, stamped after ``after`` (seconds since the epoch; 0: all): what
    a console that just connected shows of what came before it."""
    after = params.get("after", 0)
    if not isinstance(after, int | float) or isinstance(after, bool):
        raise MethodError(INVALID_PARAMS, "after is a time in seconds since the epoch")
    return {
        "events": [
            {"kind": e.kind, "at": e.at, "data": e.data} for e in ctx.bus.recent(float(after))
        ]
    }


METHODS: dict[str, Handler] = {
    "status.snapshot": status_snapshot,
    "chip.pause": _chip_call(
        lambda a: Pause(reason=str(a[0].get("reason") or "operator"), reply=a[1])
    ),
    "chip.resume": _chip_call(lambda a: Resume(reply=a[1])),
    "chip.drain": _chip_call(lambda a: Drain(reply=a[1])),
    "send.test": send_test,
    "webhooks.stats": webhooks_stats,
    "budget.status": budget_status,
    "templates.sync": templates_sync,
    "templates.list": templates_list,
    "templates.report": templates_report,
    "config.reload": config_reload,
    "events.recent": events_recent,
    "quality.history": quality_history,
    **CAMPAIGN_METHODS,
}
"""``subscribe`` is handled by the server itself: it turns the connection into a stream."""

# Feature calls live beside their features; imported last, as they use MethodError above.
from daemon.catalog.control import METHODS as _CATALOG_METHODS  # noqa: E402
from daemon.keeper.control import METHODS as _KEEPER_METHODS  # noqa: E402
from daemon.media.control import METHODS as _MEDIA_METHODS  # noqa: E402
from daemon.otp.control import METHODS as _OTP_METHODS  # noqa: E402

METHODS.update(_OTP_METHODS)
METHODS.update(_KEEPER_METHODS)
METHODS.update(_CATALOG_METHODS)
METHODS.update(_MEDIA_METHODS)
