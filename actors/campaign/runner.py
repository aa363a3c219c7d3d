"""One running campaign: recipients in file order, routed, filled, sent, journalled.

Why exactly once holds here without a distributed transaction: the runner never decides
"this recipient was not sent" by itself. It hands a recipient to a chip with the
campaign and recipient ids; the chip journals an outbox row, unique per (campaign,
recipient), before it POSTs. A second hand-over of the same recipient — after a crash,
a timeout, or a restart of this actor — finds that row and is refused as a duplicate,
unless the row was cancelled before its POST (then it never reached Meta and goes now).
A message whose POST a crash interrupted is ``in_doubt``: it waits for its status
webhook (the outbox id travels in ``biz_opaque_callback_data``) and, after the hold,
for the operator; it is never re-sent silently.

Recipient rows only say "handed to chip X" (written lazily in batches: losing those
marks loses nothing, the outbox is the truth) or why one was skipped or refused.

This module is the runner itself: feeding recipients in order (or claiming them when
several daemons share the campaign, :mod:`actors.campaign.sharing`), pacing them to the
rate and the schedule, and the sends in flight. What is sent is
:mod:`actors.campaign.content`'s, what an answer means :mod:`actors.campaign.answers`',
and its picture of the chips and templates :mod:`actors.campaign.fleet_view`'s.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import trio

from actors.budget.messages import BudgetMsg, SetCampaignCap
from actors.budget.periods import period_bounds, period_keys
from actors.budget.values import Caps, is_recount
from actors.campaign.answers import Mark, PauseCampaign, QueuedAnswer, recipient_mark
from actors.campaign.cards import tap_payload
from actors.campaign.content import render_text, template_payload, text_content
from actors.campaign.fleet_view import REFRESH_CHIPS_S, FleetView
from actors.campaign.ports import CampaignStore, FleetPort, Pending
from actors.campaign.routing import route
from actors.campaign.schedule import open_interval, sending_ends
from actors.campaign.sharing import Sharing
from actors.chip.messages import Refused, Send, SendResult
from actors.core import ActorCrashed, ActorStopped, Address, CallTimeout
from actors.templates.mapper import Filled
from config.campaign import CampaignSpec

__all__ = ["CampaignRunner", "Sharing", "render_text"]

log = logging.getLogger(__name__)

BATCH = 500
SEND_TIMEOUT_S = 900.0
"""A chip answers once Meta has: its queue may hold a message a while under rate limits."""
NO_CHIP_RETRY_S = 5.0
PACE_CREDIT_S = 0.05
"""Lateness of the pacing wake-ups made up for (see ``CampaignRunner._pace``)."""
YIELD_EVERY = 32
"""Recipients handed over at most between two yields to the scheduler."""


@dataclass(slots=True)
class _State:
    in_flight: int = 0
    assigned: dict[str, int] = field(default_factory=dict)
    marks: list[Mark] = field(default_factory=list)
    waiting: str | None = None
    """Why the runner is not sending right now (schedule, no healthy chip), for the console."""


class CampaignRunner:
    def __init__(
        self,
        *,
        campaign_id: str,
        stored: Mapping[str, Any],
        store: CampaignStore,
        fleet: FleetPort,
        budget: Address[BudgetMsg] | None,
        now: Callable[[], float],
        tz: ZoneInfo,
        on_pause: Callable[[str], None],
        sharing: Sharing | None = None,
    ) -> None:
        self.id = campaign_id
        self._sharing = sharing
        self.spec = CampaignSpec.model_validate(stored["spec"])
        self.cards: list[list[dict[str, Any]]] = [list(g) for g in stored.get("cards", [])]
        self._store = store
        self._fleet = fleet
        self._budget = budget
        self._now = now
        self._tz = tz
        self._on_pause = on_pause
        self._stop = False
        self._wake = trio.Event()
        self._idle = trio.Event()
        self._affinity: dict[str, str] = {}
        self._turn = 0
        self._since_yield = 0
        self._answers: dict[int, QueuedAnswer] = {}
        """Sends whose answer is awaited, oldest first (their deadlines in that order)."""
        self._answered: list[QueuedAnswer] = []
        self._answer_wake = trio.Event()
        self._recount = trio.Event()
        self._limit: trio.Semaphore | None = None
        self._open_until = dt.datetime.min.replace(tzinfo=dt.UTC)
        """End of the sending interval last found open."""
        self.state = _State()
        self.finished = False
        self._fleet_view = FleetView(
            self.spec, fleet, lambda pnid: self.state.assigned.get(pnid, 0)
        )

    # --- control ------------------------------------------------------------------------

    def stop(self) -> None:
        """Take no new recipient; what is in flight finishes and is journalled."""
        self._stop = True
        self._wake.set()

    def stopping(self) -> bool:
        return self._stop

    @property
    def waiting(self) -> str | None:
        return self.state.waiting

    def rate(self) -> float:
        chips = sum(v.mps for v in self._fleet_view.views.values() if v.healthy(self._marketing))
        return min(self.spec.limits.rate_per_s, chips) if chips else 0.0

    @property
    def _marketing(self) -> bool:
        return self.spec.intent == "marketing"

    # --- the run ------------------------------------------------------------------------

    async def run(self) -> None:
        """Until every recipient is settled (sets ``finished``) or :meth:`stop`."""
        recovered = await self._store.recover(self.id)
        if recovered:
            log.info(
                "campaign %s: %d recipients back to pending after a restart", self.id, recovered
            )
        await self._register_budget()
        await self._fleet_view.refresh_templates()
        await self._fleet_view.refresh_views()
        self._affinity = await self._store.affinity(self.id, list(self._fleet.chips()))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._fleet_view.keep_fresh)
            nursery.start_soon(self._flusher)
            nursery.start_soon(self._collect)
            nursery.start_soon(self._recounter)
            try:
                await self._feed(nursery)
                await self._drained()
            finally:
                with trio.CancelScope(shield=True):
                    await self._flush()
            nursery.cancel_scope.cancel()

    async def _feed(self, nursery: trio.Nursery) -> None:
        limit = trio.Semaphore(self.spec.limits.max_in_flight)
        self._limit = limit
        after = (-1, -1)
        next_at = self._now()
        while not self.stopping():
            delay = self._schedule_wait()
            if delay is None:
                self.state.waiting = "the schedule has ended"
                self.finished = True
                return
            if delay > 0:
                await self._sleep(delay)
                continue
            if self._sharing is not None:
                if not await self._claimed_batch(nursery, limit):
                    return
                continue
            batch = await self._store.pending(self.id, after=after, limit=BATCH)
            if not batch:
                if after == (-1, -1):
                    await self._drained()
                    if not await self._store.pending(self.id, after=after, limit=1):
                        self.finished = True
                        return
                await self._drained()
                after = (-1, -1)
                continue
            for r in batch:
                if self.stopping():
                    return
                next_at = await self._pace(next_at, self.spec.limits.rate_per_s)
                if self.stopping():
                    return
                await self._slot(limit)
                if self._schedule_wait() != 0.0:  # the hours ended while this one waited:
                    limit.release()  # the outer loop waits for them, then resumes at r
                    break
                after = (r.seq, r.part)
                await self._hand_over(r, nursery, limit)

    async def _pace(self, next_at: float, rate: float) -> float:
        """Wait for the instant ``next_at`` (the rate's next free slot) if it is ahead;
        the slot after this one.

        A wake-up comes late by a scheduling round (a millisecond or more when the
        daemon is busy): up to ``PACE_CREDIT_S`` of that lateness is credited, so the
        recipients it held back go at once instead of the time being lost for good
        (without it the runner sent one recipient per round, whatever the rate)."""
        now = self._now()
        next_at = max(next_at, now - PACE_CREDIT_S)
        if next_at > now:
            await self._sleep(next_at - now)
        return next_at + 1.0 / rate

    async def _slot(self, limit: trio.Semaphore) -> None:
        """Take an in-flight slot; yield only when one must be waited for, or once
        every ``YIELD_EVERY`` recipients (a free slot is taken without a scheduling
        round: the runner hands over what the rate allows in one step)."""
        self._since_yield += 1
        try:
            limit.acquire_nowait()
        except trio.WouldBlock:
            self._since_yield = 0
            await limit.acquire()
            return
        if self._since_yield >= YIELD_EVERY:
            self._since_yield = 0
            try:
                await trio.lowlevel.checkpoint()
            except BaseException:
                limit.release()
                raise

    async def _claimed_batch(self, nursery: trio.Nursery, limit: trio.Semaphore) -> bool:
        """One claimed batch sent (clustered); False when the campaign is done here."""
        sharing = self._sharing
        assert sharing is not None
        if not self._fleet_view.views:  # no chip of ours for it: claim nothing, others may send
            self.state.waiting = "no chip of this daemon can send it"
            await self._sleep(REFRESH_CHIPS_S)
            return True
        batch = await sharing.claim(self.id, sharing.batch, sharing.stale_s)
        if not batch:
            await self._drained()
            if not await sharing.outstanding(self.id):
                self.finished = True
                return False
            await self._sleep(REFRESH_CHIPS_S)  # others' claims or sends in flight, or stale
            return True
        next_at = self._now()
        for r in batch:
            if self.stopping() or self._schedule_wait() != 0.0:
                self.state.marks.append((r.key, "pending", None, None))
                continue
            rate = max(0.01, self.spec.limits.rate_per_s * sharing.share())
            next_at = await self._pace(next_at, rate)
            await self._slot(limit)
            await self._hand_over(r, nursery, limit)
        return True

    async def _hand_over(self, r: Pending, nursery: trio.Nursery, limit: trio.Semaphore) -> None:
        """Dispatch ``r`` holding one in-flight slot; the slot goes back at once when
        nothing was started (the send task returns it otherwise)."""
        try:
            started = await self._dispatch(r, nursery, limit)
        except BaseException:
            limit.release()
            raise
        if not started:
            limit.release()

    def _schedule_wait(self) -> float | None:
        """Seconds until sending is allowed (0.0: now); None once the schedule has ended.

        Asked before every send, so a batch never runs past the end of the hours:
        the open interval's end is kept, and the schedule is only computed again once
        it has passed. Both sides of every comparison are datetimes taken from one
        reading of the clock (a float against a datetime's whole microseconds would
        make an open instant look a fraction ahead)."""
        now_dt = dt.datetime.fromtimestamp(self._now(), dt.UTC)
        if now_dt < self._open_until:
            return 0.0
        span = open_interval(now_dt, self.spec.schedule, self._tz)
        if span is None:
            return None
        start, end = span
        if start <= now_dt:
            self._open_until = end
            self.state.waiting = None
            return 0.0
        self.state.waiting = f"outside the schedule until {start.isoformat(timespec='minutes')}"
        return (start - now_dt).total_seconds()

    async def _dispatch(self, r: Pending, nursery: trio.Nursery, limit: trio.Semaphore) -> bool:
        """Route and build one send; False when nothing was started (skipped or stop)."""
        if self.stopping() or self._schedule_wait() != 0.0:
            # Stopped, or the hours ended, while this one waited for an in-flight slot.
            if self._sharing is not None:
                self.state.marks.append((r.key, "pending", None, None))
            return False
        while True:
            chosen = route(
                r.to,
                self._fleet_view.views.values(),
                affinity=self._affinity,
                strategy=self.spec.routing.strategy,
                marketing=self._marketing,
                turn=self._turn,
            )
            if chosen.chip is not None:
                break
            self.state.waiting = chosen.reason
            await self._sleep(NO_CHIP_RETRY_S)
            if self.stopping():
                return False
            await self._fleet_view.refresh_templates()  # a sync or review may have made one usable
            await self._fleet_view.refresh_views()
        self.state.waiting = None
        self._turn += 1
        chip = chosen.chip
        # The views are refreshed once a second: count this one in the chosen chip's
        # backlog now, or every recipient until the next refresh goes to the same chip.
        self._fleet_view.views[chip.pnid] = chip.with_backlog(chip.backlog + 1)
        tpl = self._fleet_view.templates.get(chip.waba)
        if tpl is None:  # route() only picks chips whose WABA has it; a race with a refresh
            return False
        fields = {**r.fields, "_tap": tap_payload(self.id, r.key)}
        cards = self.cards[r.part] if self.cards else []
        filled = tpl.mapper.fill(fields, cards)
        if not isinstance(filled, Filled):
            self.state.marks.append((r.key, "skipped", f"missing variable: {filled.reason}", None))
            return False
        template = template_payload(tpl, filled)
        content = text_content(self.spec.text, r.fields, carousel=bool(self.cards))
        address = self._fleet_view.addresses[chip.pnid]
        self.state.in_flight += 1
        self.state.assigned[chip.pnid] = self.state.assigned.get(chip.pnid, 0) + 1
        self._idle = trio.Event()

        def build(reply: Any) -> Send:
            return Send(
                to=r.to,
                content=content,
                template=template,
                category=tpl.category,
                campaign_id=self.id,
                recipient_id=r.key,
                intent=self.spec.intent,
                reply=reply,
            )

        # Into the chip's mailbox from this task, so recipients handed over in one step
        # reach the chip in file order, with a reply slot that queues the answer for
        # the collector (``_collect``). A full mailbox: a task waits for room, as
        # ``call`` does, and for the answer.
        answer = QueuedAnswer(
            self._queue_answer, r.key, chip.pnid, trio.current_time() + SEND_TIMEOUT_S
        )
        try:
            queued = address.try_cast(build(answer))
        except ActorStopped:
            queued = False  # the task's call meets it again and leaves the recipient
        if queued:
            self._answers[id(answer)] = answer
        else:
            answer.answered = True  # never sent: a late answer to it has no meaning
            nursery.start_soon(self._send_one, r.key, chip.pnid, address, build)
        return True

    def _queue_answer(self, answer: QueuedAnswer) -> None:
        self._answered.append(answer)
        self._answer_wake.set()

    async def _collect(self) -> None:
        """Settle the chips' answers as they come, a batch per wake-up; give up on those
        past their deadline (left pending, like a ``call`` that timed out)."""
        while True:
            deadline = next(iter(self._answers.values())).deadline if self._answers else math.inf
            with trio.move_on_at(deadline):
                await self._answer_wake.wait()
            self._answer_wake = trio.Event()
            answered, self._answered = self._answered, []
            for answer in answered:
                if self._answers.pop(id(answer), None) is None:
                    continue  # given up on already
                assert answer.result is not None
                try:
                    result: SendResult | None = answer.result.unwrap()
                except (ActorCrashed, ActorStopped) as exc:
                    self._lost(answer.key, answer.pnid, exc)
                    result = None
                self._done(answer.pnid)
                if result is not None:
                    self._settle(answer.key, answer.pnid, result)
            now = trio.current_time()
            while self._answers:
                oldest = next(iter(self._answers.values()))
                if oldest.deadline > now:
                    break
                del self._answers[id(oldest)]
                oldest.answered = True  # an answer after this is ignored
                self._lost(oldest.key, oldest.pnid, CallTimeout(oldest.pnid, SEND_TIMEOUT_S))
                self._done(oldest.pnid)

    def _lost(self, key: str, pnid: str, exc: Exception) -> None:
        # Left pending: a later pass hands it over again, and the outbox's unique
        # row turns that into "duplicate" if the chip did journal it.
        log.info("campaign %s: %s via %s: %s", self.id, key, pnid, exc)
        if self._sharing is not None:  # claimed: give it back for any daemon
            self.state.marks.append((key, "pending", None, None))

    def _done(self, pnid: str) -> None:
        """One send is over (answered, failed or given up): its slot goes back."""
        assert self._limit is not None
        self._limit.release()
        self.state.in_flight -= 1
        self.state.assigned[pnid] -= 1
        if self.state.in_flight == 0:
            self._idle.set()

    async def _send_one(
        self,
        key: str,
        pnid: str,
        address: Any,
        build: Callable[[Any], Send],
    ) -> None:
        result: SendResult | None = None
        try:
            result = await address.call(build, timeout=SEND_TIMEOUT_S)
        except (CallTimeout, ActorStopped, ActorCrashed) as exc:
            self._lost(key, pnid, exc)
        finally:
            self._done(pnid)
        if result is not None:
            self._settle(key, pnid, result)

    def _settle(self, key: str, pnid: str, result: SendResult) -> None:
        if isinstance(result, Refused) and is_recount(result.reason):
            self._recount.set()  # left pending (a transient refusal): sent once registered
        mark = recipient_mark(key, pnid, result, claimed=self._sharing is not None)
        if isinstance(mark, PauseCampaign):
            if mark.mark is not None:
                self.state.marks.append(mark.mark)
            self._on_pause(mark.reason)
        elif mark is not None:
            self.state.marks.append(mark)

    # --- the budget ---------------------------------------------------------------------

    async def _register_budget(self) -> None:
        """Register the file's ``budget_usd`` with the budget: what is left of it after the
        months before this one, as this month's cap, for this month only.

        Why not simply a monthly cap of ``budget_usd``: the file says what the campaign
        may spend in all, and a campaign that runs into a new month (a large one paced
        by a day cap does) would get it afresh. The ledger refuses the campaign's paid
        sends once the month is another (:class:`~actors.budget.values.Registered`);
        the refusal brings the runner back here (:meth:`_recounter`)."""
        if self._budget is None or self.spec.limits.budget_usd is None:
            return
        now = self._now()
        start, _ = period_bounds(now, self._tz, "month")
        month = period_keys(now, self._tz).month
        before = await self._store.spent_before(self.id, dt.datetime.fromtimestamp(start, dt.UTC))
        cap = max(Decimal(str(self.spec.limits.budget_usd)) - before, Decimal(0))
        await self._budget.call(
            lambda r: SetCampaignCap(
                campaign_id=self.id, caps=Caps(monthly=cap), month=month, reply=r
            )
        )
        if before:
            log.info(
                "campaign %s: %s USD of its budget left for %s (%s USD spent before)",
                self.id,
                cap,
                month,
                before,
            )

    async def _recounter(self) -> None:
        """Registers the budget again whenever the ledger asks (a new month began)."""
        while True:
            await self._recount.wait()
            self._recount = trio.Event()
            try:
                await self._register_budget()
            except (ActorCrashed, ActorStopped, CallTimeout) as exc:
                log.warning("campaign %s: budget not registered again: %s", self.id, exc)

    # --- helpers ------------------------------------------------------------------------

    async def _drained(self) -> None:
        if self.state.in_flight:
            await self._idle.wait()
        await self._flush()

    async def _sleep(self, seconds: float) -> None:
        self._wake = trio.Event()
        with trio.move_on_after(max(0.0, seconds)):
            await self._wake.wait()

    async def _flush(self) -> None:
        marks, self.state.marks = self.state.marks, []
        if marks:
            await self._store.mark(self.id, marks)

    async def _flusher(self) -> None:
        while True:
            await trio.sleep(0.2)
            await self._flush()

    def template_problems(self) -> dict[str, str]:
        return dict(self._fleet_view.problems)

    def eta_s(self, pending: int) -> float | None:
        """Seconds until ``pending`` more are handed over at the current rate, within
        the schedule's hours (a wait for them included); None when unknown or when they
        do not fit in the schedule."""
        rate = self.rate()
        if pending == 0:
            return 0.0
        if rate <= 0:
            return None
        now = dt.datetime.fromtimestamp(self._now(), dt.UTC)
        end = sending_ends(now, pending / rate, self.spec.schedule, self._tz)
        return None if end is None else math.ceil((end - now).total_seconds())
