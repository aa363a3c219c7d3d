"""``CampaignCoordinator``: start, pause, resume, cancel; one runner task per campaign.

Why an actor: start/pause/cancel from the console, the CLI and a reload arrive at any
time and must not race one campaign's state; one mailbox orders them. The campaign's
state lives in the store, so a restart of this actor (or the daemon) resumes every
campaign that was running, where it stopped (see :mod:`actors.campaign.runner`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias, assert_never
from zoneinfo import ZoneInfo

import trio

from actors.base import Actor
from actors.budget.messages import BudgetMsg, Reconcile
from actors.campaign.ports import CampaignStore, FleetPort
from actors.campaign.rollover import period_over
from actors.campaign.runner import CampaignRunner, Sharing
from actors.core import ActorStopped, Address, ReplyTo

__all__ = [
    "CampaignCmd",
    "CampaignCoordinator",
    "CampaignMsg",
    "CampaignStatus",
    "ListCampaigns",
    "ResolveInDoubt",
]

log = logging.getLogger(__name__)

OPEN_STATES = frozenset({"draft", "running", "paused"})
"""A campaign in these states may still send."""
ROLLOVER_CHECK_S = 60.0
"""How often campaigns paused by a budget period are checked for its end."""
PROGRESS_EVERY_S = 1.0
PROGRESS_COST_SHARE = 0.1
"""At most this share of the time goes to counting a running campaign: the counts are
kept for ``PROGRESS_EVERY_S`` or ten times as long as they took to count, whichever is
longer. The count is one pass over all the campaign's recipients and outbox rows (0.1 s
at 20,000 recipients, growing with them): at one a second, a million-recipient campaign
would keep PostgreSQL busy counting."""


class CampaignError(Exception):
    """A refused command (unknown campaign, wrong state): its text is for the operator."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignCmd:
    """``action`` is start, pause, resume or cancel."""

    action: str
    campaign_id: str
    reason: str | None = None
    reply: ReplyTo[dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignStatus:
    campaign_id: str
    reply: ReplyTo[dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ListCampaigns:
    reply: ReplyTo[list[dict[str, Any]]]
    open_only: bool = False
    """Only draft, running and paused ones (what metrics show: a finished campaign's
    counts do not move, and counting each of them at every scrape would add up)."""
    max_age_s: float = 0.0
    """Counts of a campaign not running may be this old (a scrape every 15 s need not
    recount a paused million-recipient campaign each time); 0: counted afresh."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolveInDoubt:
    """The operator's answer for one message in doubt: ``resend`` or ``drop``."""

    campaign_id: str
    recipient: str
    action: str
    reply: ReplyTo[bool]


@dataclass(frozen=True, slots=True)
class _Count:
    """One count of a campaign: when (trio time), until when a running one's is fresh,
    its counts and its overdue messages in doubt."""

    at: float
    fresh_until: float
    counts: dict[str, Any]
    overdue: list[dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Ended:
    campaign_id: str
    runner: CampaignRunner


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sync:
    reply: ReplyTo[None]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rollover:
    """Resume the campaigns a budget period paused, once it is over (actors.campaign.rollover)."""

    reply: ReplyTo[None]


CampaignMsg: TypeAlias = (
    CampaignCmd | CampaignStatus | ListCampaigns | ResolveInDoubt | _Ended | _Sync | _Rollover
)

_ALLOWED = {
    "start": ("draft", "paused"),
    "resume": ("paused",),
    "pause": ("running",),
    "cancel": ("draft", "running", "paused"),
}


class CampaignCoordinator(Actor[CampaignMsg]):
    def __init__(
        self,
        *,
        store: CampaignStore,
        fleet: FleetPort,
        inbox: trio.MemoryReceiveChannel[CampaignMsg],
        address: Address[CampaignMsg],
        budget: Address[BudgetMsg] | None,
        now: Callable[[], float],
        tz: ZoneInfo,
        publish: Callable[[str, dict[str, Any]], None] = lambda kind, data: None,
        sharing: Sharing | None = None,
    ) -> None:
        super().__init__("campaigns", inbox)
        self._sharing = sharing
        """Several daemons: each runs every running campaign on its own chips, claiming
        recipients, and follows the store for campaigns started or stopped elsewhere."""
        self._store = store
        self._fleet = fleet
        self._address = address
        self._budget = budget
        self._now = now
        self._tz = tz
        self._publish = publish
        self.runners: dict[str, CampaignRunner] = {}
        self._nursery: trio.Nursery | None = None
        self._counted: dict[str, _Count] = {}
        """Per campaign, its last count (see :meth:`status`)."""
        self._forgot: dict[str, float] = {}
        """When a campaign's count was last dropped (its counts changed): a count that
        began before is older than the change and is not kept."""
        self._as_of = 0.0
        """The last ``as_of`` stamp :meth:`status` gave (each is later than it)."""

    async def run(self, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._reporter)
            nursery.start_soon(self._rollover_watch)
            if self._sharing is not None:
                nursery.start_soon(self._follow)
            await super().run(task_status=task_status)
            nursery.cancel_scope.cancel()

    async def load(self) -> None:
        """Resume every campaign the store says is running (after any restart)."""
        self.runners = {}
        await self.resume_running()

    async def stopped(self) -> None:
        for runner in self.runners.values():
            runner.stop()

    async def handle(self, msg: CampaignMsg) -> None:
        match msg:
            case CampaignCmd(action=action, campaign_id=cid, reason=reason, reply=reply):
                try:
                    reply.ok(await self._command(action, cid, reason))
                except CampaignError as exc:
                    reply.fail(exc)
            case CampaignStatus(campaign_id=cid, reply=reply):
                row = await self._store.get(cid)
                if row is None:
                    reply.fail(await self._unknown(cid))
                else:
                    reply.ok(await self.status(row))
            case ListCampaigns(reply=reply, open_only=open_only, max_age_s=max_age):
                rows = await self._store.all()
                if open_only:
                    rows = [r for r in rows if r.state in OPEN_STATES]
                reply.ok([await self.status(row, max_age_s=max_age) for row in rows])
            case ResolveInDoubt(campaign_id=cid, recipient=key, action=action, reply=reply):
                if action not in ("resend", "drop"):
                    reply.fail(CampaignError(f"action must be resend or drop, not {action!r}"))
                    return
                outbox_id = await self._store.resolve_in_doubt(cid, key, action)
                done = outbox_id is not None
                self._forget_count(cid)  # its counts changed
                if outbox_id is not None:
                    await self._release(outbox_id)
                row = await self._store.get(cid)
                if done and action == "resend" and row is not None and row.state == "finished":
                    # The recipient is pending again: the campaign has work to do.
                    await self._store.set_state(cid, "running")
                    self._start_runner(await self._store.get(cid))
                reply.ok(done)
            case _Sync():
                for row in await self._store.all():
                    runner = self.runners.get(row.id)
                    if row.state == "running" and runner is None:
                        self._start_runner(row)
                    elif row.state != "running" and runner is not None:
                        del self.runners[row.id]
                        self._forget_count(row.id)
                        runner.stop()
            case _Ended(campaign_id=cid, runner=runner):
                if self.runners.get(cid) is runner:
                    del self.runners[cid]
                    self._forget_count(cid)
                    if runner.finished:
                        await self._store.set_state(cid, "finished", runner.waiting)
                        self._publish_progress(await self.status(await self._store.get(cid)))
            case _Rollover():
                await self._resume_after_rollover()
            case _:
                assert_never(msg)

    async def _release(self, outbox_id: int) -> None:
        """Have the budget release the reservation of a message the operator resolved:
        dropped, it will not be charged; re-sent, the new attempt books its own. Asked as
        a :class:`~actors.budget.messages.Reconcile`, which checks the row first (a
        re-send may already have taken it over and reused the reservation). Without the
        budget now (restarting), its periodic reconciliation releases it later."""
        if self._budget is None:
            return
        with contextlib.suppress(ActorStopped):
            await self._budget.cast(Reconcile(refs=(f"o:{outbox_id}",)))

    async def resume_running(self) -> None:
        """Start a runner for every campaign the store says is running (after a restart)."""
        for row in await self._store.all():
            if row.state == "running" and row.id not in self.runners:
                self._start_runner(row)

    async def _follow(self) -> None:
        """Clustered: start runners for campaigns another daemon started or resumed, stop
        those another daemon paused, cancelled or finished (the store is the truth)."""
        while True:
            await trio.sleep(PROGRESS_EVERY_S)
            await self._address.cast(_Sync(reply=ReplyTo()))

    async def _rollover_watch(self) -> None:
        while True:
            await trio.sleep(ROLLOVER_CHECK_S)
            await self._address.cast(_Rollover(reply=ReplyTo()))

    async def _resume_after_rollover(self) -> None:
        """Resume each campaign paused by a day, week or month cap whose period is over
        (:func:`~actors.campaign.rollover.period_over` says which)."""
        for row in await self._store.all():
            if row.state != "paused":
                continue
            ended = period_over(row.id, row.reason, self._now(), self._tz)
            if ended is None:
                continue
            log.info(
                "campaign %s: the budget period %s is over: resumed",
                row.id,
                ended,
                extra={"campaign": row.id},
            )
            with contextlib.suppress(CampaignError):  # another daemon resumed it first
                await self._command("resume", row.id, None)

    async def _unknown(self, cid: str) -> CampaignError:
        """The "no campaign" error, naming the closest one there is: a campaign is named by its
        file's ``name``, which is easy to confuse with the file's own name
        (``demo_carousel.toml`` holds ``demo-carousel``)."""
        names = [row.id for row in await self._store.all()]
        close = difflib.get_close_matches(cid, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return CampaignError(f"no campaign {cid!r}{hint}")

    async def _command(self, action: str, cid: str, reason: str | None) -> dict[str, Any]:
        row = await self._store.get(cid)
        if row is None:
            raise await self._unknown(cid)
        allowed = _ALLOWED.get(action)
        if allowed is None:
            raise CampaignError(f"unknown action {action!r}")
        if row.state not in allowed:
            raise CampaignError(f"campaign {cid} is {row.state}: cannot {action} it")
        if action in ("start", "resume"):
            await self._store.set_state(cid, "running")
            row = await self._store.get(cid)
            self._start_runner(row)
        else:
            runner = self.runners.pop(cid, None)
            self._forget_count(cid)
            if runner is not None:
                runner.stop()
            state = "paused" if action == "pause" else "cancelled"
            await self._store.set_state(cid, state, reason or f"{action} by the operator")
        log.info("campaign %s: %s", cid, action, extra={"campaign": cid})
        status = await self.status(await self._store.get(cid))
        self._publish_progress(status)
        return status

    def _start_runner(self, row: Any) -> None:
        assert self._nursery is not None
        cid = row.id

        def on_pause(reason: str) -> None:
            self._address.try_cast(
                CampaignCmd(action="pause", campaign_id=cid, reason=reason, reply=ReplyTo())
            )

        runner = CampaignRunner(
            campaign_id=cid,
            stored=row.spec,
            store=self._store,
            fleet=self._fleet,
            budget=self._budget,
            now=self._now,
            tz=self._tz,
            on_pause=on_pause,
            sharing=self._sharing,
        )
        self.runners[cid] = runner
        self._forget_count(cid)

        async def run() -> None:
            await runner.run()
            await self._address.cast(_Ended(campaign_id=cid, runner=runner))

        self._nursery.start_soon(run)

    def _forget_count(self, campaign_id: str) -> None:
        """Drop the campaign's last count: its counts just changed (start, pause…)."""
        self._counted.pop(campaign_id, None)
        self._forgot[campaign_id] = trio.current_time()

    async def status(self, row: Any, *, max_age_s: float = 0.0) -> dict[str, Any]:
        """The campaign's row and counts, with its runner's live figures.

        Why counts of a running campaign may be up to ``PROGRESS_EVERY_S`` old (longer
        for a big one, see ``PROGRESS_COST_SHARE``): they come from one query over all
        its recipients and outbox rows, which the progress reporter runs every second
        and every status call ran again (a console or a script polling four times a
        second cost PostgreSQL more than the sends did). A campaign that is not running
        is counted afresh, unless counts at most ``max_age_s`` old will do.

        ``as_of`` stamps the figures, so that a reader that gets them two ways (the
        console: ``campaign.progress`` events and the ``campaign.list`` or an action's
        answer, which overtake each other) keeps the newest instead of the last to
        arrive. It is taken first thing, before any await: the caller read ``row`` just
        before, and no other task ran in between, so the state is as of the stamp; the
        counts are counted after it, or are the last count, which every call reuses
        while fresh (a running campaign's freshness is a time every caller shares), so
        a later stamp never shows an older state or older counts on one daemon. Not
        quite in three overlaps: a ``max_age_s`` caller (the metrics scrape, which the
        console never sees) may reuse a count older than one in flight; of two counts
        in flight at once, the older may finish last (it is answered, not kept); two reads of
        ``row`` in flight at once on separate connections may complete in the other
        order. It is strictly increasing per coordinator: two calls in the same clock
        tick still order.

        Wall time (``self._now``, epoch seconds), not trio's clock: trio's starts again
        at each daemon restart, and after a failover another node's coordinator takes
        the campaign over and stamps with its own clock. Clocks are NTP-close
        (milliseconds) and figures come every second, so across nodes a stamp only
        errs within the skew: the new node's first figures wait at most that long."""
        self._as_of = max(self._now(), self._as_of + 1e-6)
        as_of = self._as_of
        runner = self.runners.get(row.id)
        at = trio.current_time()
        cached = self._counted.get(row.id)
        if cached is not None and (
            at < cached.fresh_until if runner is not None else at - cached.at < max_age_s
        ):
            counts, overdue = cached.counts, cached.overdue
        else:
            counts = await self._store.progress(row.id)
            hold = float(row.spec.get("spec", {}).get("limits", {}).get("in_doubt_hold_s", 3600.0))
            overdue = await self._store.in_doubt(
                row.id,
                older_than=dt.datetime.fromtimestamp(self._now() - hold, dt.UTC),
            )
            fresh_for = 0.0
            if self.runners.get(row.id) is not None:
                took = trio.current_time() - at
                fresh_for = max(PROGRESS_EVERY_S, took / PROGRESS_COST_SHARE)
            kept = self._counted.get(row.id)
            newest = kept.at if kept is not None else self._forgot.get(row.id, -math.inf)
            if at >= newest:  # a slower, older count is answered, never kept
                self._counted[row.id] = _Count(at, at + fresh_for, counts, overdue)
                self._forgot.pop(row.id, None)
        pending = int(counts.get("pending", 0))
        return {
            "id": row.id,
            "name": row.name,
            "state": row.state,
            "reason": row.reason,
            **counts,
            "cost_usd": round(float(counts.get("spent", 0.0)), 6),
            "cap_usd": row.cap_usd,
            "rate_per_s": runner.rate() if runner else 0.0,
            "eta_s": runner.eta_s(pending) if runner else None,
            "waiting": runner.waiting if runner else None,
            "template_problems": runner.template_problems() if runner else {},
            "in_doubt_overdue": [
                {"recipient": r["recipient_id"], "outbox_id": r["id"], "chip": r["chip"]}
                for r in overdue[:50]
            ],
            "as_of": as_of,
        }

    def _publish_progress(self, status: dict[str, Any]) -> None:
        self._publish("campaign.progress", status)

    async def _reporter(self) -> None:
        while True:
            await trio.sleep(PROGRESS_EVERY_S)
            for cid in list(self.runners):
                row = await self._store.get(cid)
                if row is not None:
                    self._publish_progress(await self.status(row))
