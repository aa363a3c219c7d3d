"""A chip's send pipeline: decide, journal, reserve, queue, gate, POST, settle.

Why a module of its own: it is the hot path (every campaign message goes through it
several times) and the half of :class:`~actors.chip.actor.ChipActor` with the most
rules about ordering and exactly-once; the actor keeps its lifecycle, mailbox, webhooks
and quality. :class:`SendPipeline` is a mixin of the actor: its state is the actor's.

The order, per message (each step durable before the next, see ``actors.chip.actor``):

1. ``_accept`` (the actor's loop): contact key, plan, decision, template check,
   estimate; a refusal is answered at once.
2. ``_journal_lane`` (one task per chip while there is work, off the actor's loop): the
   sends that arrived meanwhile, a batch at a time: their outbox rows ``queued`` in one
   commit (unique per campaign and recipient: a second hand-over is a duplicate), then
   their budget reservations in one call.
3. ``_prepared`` (the actor's loop): journalled sends join the queue in arrival order.
4. ``_dispatch`` (the actor's loop, once per batch of messages): the decision again,
   the rate gate; what passes goes to ``_post_all``.
5. ``_post_all`` (a task per dispatch): the rows ``sending`` in one commit, then a POST
   each (``_post``, a task each): row ``accepted`` or ``in_doubt``; the outcome comes
   back as a ``SendDone`` message.

Why batches in steps 2 and 5: per message, each wait (a commit, a budget answer) is a
trio scheduling round and each task a spawn; at campaign rate those rounds were a
quarter of the daemon's CPU. A batch waits once.
6. ``_settle`` (the actor's loop): answer the caller and learn the contact, or apply
   the error table's reaction (``_react``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import trio

from actors.chip import quality as q, wire
from actors.chip.contacts import ContactBook
from actors.chip.decision import Decision, decide
from actors.chip.messages import Refused, Send, SendDone, SendResult, Sent, Uncertain
from actors.chip.plan import plan_send
from actors.chip.ratelimit import RateGate
from actors.chip.templates import TemplateBook
from actors.chip.window import WindowBook, WindowState
from actors.core import ActorCrashed, ActorStopped, CallTimeout, put
from actors.policy.pricing import PriceTable, UnknownDestination
from actors.ports import (
    Booking,
    BudgetPort,
    ChipJournal,
    ChipRecord,
    GraphPort,
    OutboxRow,
    SendAccepted,
    SendFailed,
    SendInDoubt,
)
from actors.reactions import Reaction

__all__ = ["JOURNAL_BATCH", "MAX_IN_FLIGHT", "MAX_RETRIES", "SendPipeline"]

log = logging.getLogger("metad.chip")

MAX_IN_FLIGHT = 64
JOURNAL_BATCH = 256
"""Sends journalled together at most (one outbox statement, one budget call). A chip
journals one batch at a time, so its rate is a batch per (outbox commit + budget
commit): batches grow with the load, and a burst never floods the budget's mailbox."""
MAX_RETRIES = 5
GROUP_S = 0.05
"""A chip held back by its throughput sends in groups of this long's tokens (4 at 80
msg/s), not one message per token: each dispatch costs a task, a ``sending`` commit and a
wake-up whatever it carries, and one message every 12.5 ms made a campaign's messages
cost twice what they cost when they went in batches. A group never waits for more
messages than are queued, so an idle chip still sends at once; Meta's bucket (one
second) has room for a group (see ``[limits] burst_s``)."""


@dataclass(slots=True)
class _Prep:
    """A send being journalled (outbox row, budget reservation) by the journal lane."""

    request: Send
    key: str
    verdict: Decision
    estimate: Decimal | None
    secret: bool = False
    """The template's parameters are a one-time code: the journal gets them masked."""
    item: _Item | None = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Internal message: a batch of :class:`_Prep` is journalled (or refused, or failed)."""

    preps: list[_Prep]


@dataclass(frozen=True, slots=True)
class _Wake:
    """Internal message: a held send may go now (the loop dispatches after every batch)."""


@dataclass(slots=True)
class _Item:
    """One message the chip holds: queued, or in flight."""

    request: Send
    key: str
    outbox_id: int
    method: str = ""
    business_initiated: bool = False
    attempts: int = 0
    not_before: float = 0.0
    force_template: bool = False
    reserved: bool = False
    """A budget reservation is held for this message (released if it never goes)."""


class SendPipeline:
    """The sending half of :class:`~actors.chip.actor.ChipActor` (a mixin: the actor
    owns the state declared here and the helpers declared under ``TYPE_CHECKING``)."""

    pnid: str
    actor_id: str
    record: ChipRecord
    contacts: ContactBook
    windows: WindowBook
    gate: RateGate
    quality: q.QualityState
    templates: TemplateBook
    failed: int
    accepted: int
    _cfg: Any
    _journal: ChipJournal
    _graph: GraphPort
    _budget: BudgetPort | None
    _prices: PriceTable | None
    _marketing_messages: bool
    _now: Callable[[], float]
    _queue: deque[_Item]
    _preparing: deque[_Prep]
    _unjournalled: list[_Prep]
    _journalling: bool
    _in_flight: dict[int, _Item]
    _awaiting_fallback: dict[int, _Item]
    _closed_in_flight: set[int]
    """Free-form sends whose 131047 webhook overtook their POST's answer (see _settle)."""
    _draining: bool
    _closing: bool
    _wake_at: float
    _wake_scope: trio.CancelScope
    _events_send: trio.MemorySendChannel[Any]
    _nursery: trio.Nursery | None

    if TYPE_CHECKING:

        def _policy(self) -> q.SendPolicy: ...

        async def _journal_quality(
            self, state: q.QualityState, transitions: list[q.QualityTransition]
        ) -> None: ...

        async def _save(self, **changes: Any) -> None: ...

        async def _learn(
            self,
            *,
            wa_id: str | None,
            phone: str | None,
            bsuid: str | None,
            behind: bool = False,
        ) -> str | None: ...

    async def _accept(self, req: Send) -> None:
        if self._draining or self._closing:
            req.reply.ok(Refused("chip is draining" if self._draining else "daemon stopping"))
            return
        try:
            key = self.contacts.key_for_send(req.to)
        except ValueError:
            req.reply.ok(Refused(f"not a phone number or user id: {req.to!r}"))
            return
        window = self.windows.state(key, self._now())  # one reading for plan, rule, price
        if req.intent is not None and req.template is None:
            planned = self._plan(req, key, window)
            if isinstance(planned, str):
                req.reply.ok(Refused(planned))
                return
            req = planned
        asked = req.category
        req = self._with_known_category(req)
        secret = req.template is not None and _is_secret(asked, req.category)
        verdict = self._decide(req, key, window, force_template=False)
        if verdict.method == "refuse":
            req.reply.ok(Refused(verdict.reason))
            return
        problem = (
            self.templates.refusal(req.template, self.record.waba_id)
            if verdict.method == "template" and req.template is not None
            else None
        )
        if problem is not None:
            req.reply.ok(Refused(problem))
            return
        estimate: Decimal | None = None
        if verdict.method == "template":
            priced = self._estimate(req, key, window)
            if isinstance(priced, str):
                req.reply.ok(Refused(priced))
                return
            estimate = priced
        prep = _Prep(req, key, verdict, estimate, secret)
        self._preparing.append(prep)
        self._unjournalled.append(prep)
        if not self._journalling:
            self._journalling = True
            assert self._nursery is not None
            self._nursery.start_soon(self._journal_lane)

    async def _journal_lane(self) -> None:
        """Journal the sends that have arrived, a batch at a time, until none is left:
        what arrives while a batch is written goes into the next one."""
        try:
            while self._unjournalled:
                batch = self._unjournalled[:JOURNAL_BATCH]
                del self._unjournalled[:JOURNAL_BATCH]
                try:
                    await self._journal_batch(batch)
                except Exception as exc:
                    for prep in batch:  # raised in the actor's loop: storage lost crashes it
                        prep.error = exc
                await put(self._events_send, _Prepared(batch))
        finally:
            self._journalling = False

    async def _journal_batch(self, batch: list[_Prep]) -> None:
        """Outbox rows ``queued`` (one commit), then the budget reservations (one call)."""
        ids = await self._journal.outbox_new([self._outbox_row(p) for p in batch])
        held: list[tuple[_Prep, _Item]] = []
        for prep, outbox_id in zip(batch, ids, strict=True):
            req = prep.request
            if outbox_id is None:
                why = f"campaign {req.campaign_id} already sent to recipient {req.recipient_id}"
                req.reply.ok(Refused(f"duplicate: {why}"))
            else:
                held.append((prep, _Item(req, prep.key, outbox_id)))
        refusals = await self._reserve([(item, prep.estimate) for prep, item in held])
        for (prep, item), refusal in zip(held, refusals, strict=True):
            if refusal is not None:
                await self._finish(item, Refused(refusal, item.outbox_id), "cancelled")
            else:
                prep.item = item

    def _outbox_row(self, prep: _Prep) -> OutboxRow:
        req, verdict = prep.request, prep.verdict
        payload = wire.payload(req, prep.key, verdict.method)
        return OutboxRow(
            chip=self.pnid,
            key=prep.key,
            kind=verdict.method,
            payload=wire.masked(payload) if prep.secret else payload,
            decision={
                "method": verdict.method,
                "business_initiated": verdict.business_initiated,
                "reason": verdict.reason,
                "category": req.category if req.template is not None else None,
                "via": req.via,
                **({"plan": dict(req.plan)} if req.plan is not None else {}),
            },
            campaign_id=req.campaign_id,
            recipient_id=req.recipient_id,
        )

    async def _prepared(self, preps: list[_Prep]) -> None:
        """Queue a journalled batch: the oldest sends held (one lane journals them in
        arrival order, so a batch is always the head of ``_preparing``)."""
        for prep in preps:
            head = self._preparing.popleft()
            assert head is prep
            if head.error is not None:
                head.request.reply.fail(ActorCrashed(self.actor_id))
                raise head.error
            if head.item is None:
                continue  # refused (duplicate, budget); answered already
            if self._closing:
                await self._finish(head.item, Refused("daemon stopping"), "cancelled")
            else:
                self._queue.append(head.item)

    def _with_known_category(self, req: Send) -> Send:
        """``req`` with the category Meta holds for its template, whatever the caller
        said: Meta bills by that one, and the quality rules (no marketing from a YELLOW
        chip) must read it too. ``metad ctl send-test`` of a marketing template was
        booked at the utility price, the default of a Send that names no category."""
        known = None if req.template is None else self.templates.category_of(req.template)
        if known is None or known == req.category:
            return req
        return dataclasses.replace(req, category=known)

    def _plan(self, req: Send, key: str, window: WindowState) -> Send | str:
        """Choose method and template for an intent; the refusal's reason otherwise."""
        if self._prices is None:
            return "no price table: cannot choose a method by cost"
        return plan_send(
            req,
            key,
            window=window,
            templates=self.templates,
            policy=self._policy(),
            prices=self._prices,
            marketing_messages=self._marketing_messages,
        )

    def _estimate(self, req: Send, key: str, window: WindowState) -> Decimal | str | None:
        """The template's estimated cost (None: nothing to book); a refusal's reason."""
        if self._budget is None or self._prices is None:
            return None
        try:
            estimate = self._prices.estimate(key, req.category, window)
        except UnknownDestination as exc:
            return f"pricing: {exc}"
        return estimate if estimate > 0 else None

    async def _reserve(self, held: list[tuple[_Item, Decimal | None]]) -> list[str | None]:
        """Book the templates' estimated costs in one call; per item None, or the reason
        the budget said no."""
        refusals: list[str | None] = [None] * len(held)
        paid = [(n, item, cost) for n, (item, cost) in enumerate(held) if cost is not None]
        if self._budget is None or not paid:
            return refusals
        waba = self.record.waba_id
        bookings = [
            Booking(f"o:{item.outbox_id}", cost, waba, item.request.campaign_id)
            for _, item, cost in paid
        ]
        try:
            answers = await self._budget.reserve(bookings)
        except (ActorCrashed, ActorStopped, CallTimeout) as exc:
            # The budget is restarting or slow: not this chip's fault, and no reason to
            # crash it. The messages are not sent now (the caller may try again), and
            # reservations the budget might still book late are released.
            for booking in bookings:
                with contextlib.suppress(ActorStopped):
                    await self._budget.release(booking.ref)
            answers = [f"budget unavailable: {exc}"] * len(bookings)
        for (n, item, _), answer in zip(paid, answers, strict=True):
            item.reserved = answer is None
            refusals[n] = answer
        return refusals

    def _decide(
        self, req: Send, key: str, window: WindowState, *, force_template: bool
    ) -> Decision:
        return decide(
            has_content=req.content is not None,
            template_category=req.category if req.template is not None else None,
            window=window,
            policy=self._policy(),
            paused_reason=self.record.pause_reason if self.record.paused else None,
            force_template=force_template,
        )

    async def _dispatch(self) -> None:
        """Start every queued send the rules allow now; wake up later for the rest."""
        if not self._queue or self._closing:
            return
        now = self._now()
        if (wait := self._group_wait(now, len(self._queue))) > 0.0:
            # The one place groups are made: the loop dispatches after every batch it
            # handles, and a wake for the next token lands here too (each let one more
            # message go alone before).
            self._schedule_wake(now + wait)
            return
        earliest = math.inf
        kept: deque[_Item] = deque()
        go: list[tuple[_Item, dict[str, Any]]] = []
        while self._queue:
            item = self._queue.popleft()
            if len(self._in_flight) >= MAX_IN_FLIGHT:  # nothing more can go: keep order
                earliest = min(earliest, now + 0.05)
                kept.append(item)
                kept.extend(self._queue)
                self._queue.clear()
                break
            if item.not_before > now:
                earliest = min(earliest, item.not_before if item.not_before > now else now + 0.05)
                kept.append(item)
                continue
            verdict = self._decide(
                item.request,
                item.key,
                self.windows.state(item.key, now),
                force_template=item.force_template,
            )
            if verdict.method == "refuse":
                await self._finish(item, Refused(verdict.reason, item.outbox_id), "cancelled")
                continue
            gate = self.gate.check(item.key, now, verdict.business_initiated)
            if not gate.allowed:
                if gate.reason == "tier_cap":
                    reason = "messaging-limit tier reached for new contacts"
                    await self._finish(item, Refused(reason, item.outbox_id), "cancelled")
                    continue
                earliest = min(earliest, now + gate.wait_s)
                kept.append(item)
                if gate.reason == "throughput":  # the whole chip waits: keep order
                    kept.extend(self._queue)
                    self._queue.clear()
                continue
            self.gate.commit(item.key, now, verdict.business_initiated)
            item.method, item.business_initiated = verdict.method, verdict.business_initiated
            self._in_flight[item.outbox_id] = item
            go.append((item, wire.payload(item.request, item.key, item.method)))
        if go:
            assert self._nursery is not None
            self._nursery.start_soon(self._post_all, go)
        self._queue = kept
        if earliest < math.inf:
            self._schedule_wake(earliest)

    def _group_wait(self, now: float, queued: int) -> float:
        """Seconds until the chip's bucket holds a group (:data:`GROUP_S`' worth of
        tokens, no more than ``queued`` nor the bucket's depth); 0.0: it does now."""
        bucket = self.gate.bucket
        group = min(float(queued), bucket.rate * GROUP_S, bucket.burst)
        return bucket.wait(now, group) if group > 1.0 else 0.0

    async def _post_all(self, go: list[tuple[_Item, dict[str, Any]]]) -> None:
        """``sending`` durable for every send of one dispatch (one commit), then their
        POSTs side by side: the row never says less than Meta may know (exactly once),
        and the actor's loop never waits."""
        await self._journal.outbox_sending([item.outbox_id for item, _ in go])
        assert self._nursery is not None
        for item, payload in go[1:]:
            self._nursery.start_soon(self._post, item, payload)
        await self._post(*go[0])

    async def _post(self, item: _Item, payload: dict[str, Any]) -> None:
        """The POST of a send marked ``sending``, then its answer journalled."""
        oid = item.outbox_id
        outcome = await self._graph.send(self.pnid, payload, f"metad:o:{oid}", item.request.via)
        match outcome:
            case SendAccepted(wamid=wamid):
                await self._journal.outbox_set(oid, "accepted", wamid=wamid)
            case SendInDoubt(reason=reason):
                await self._journal.outbox_set(oid, "in_doubt", error={"reason": reason})
            case _:
                pass
        await put(self._events_send, SendDone(outbox_id=oid, outcome=outcome))

    def _schedule_wake(self, at: float) -> None:
        """Have the waker dispatch again at ``at`` (actor time), unless it will earlier."""
        if at >= self._wake_at:
            return
        self._wake_at = at
        self._wake_scope.deadline = trio.current_time() + max(0.0, at - self._now())

    async def _waker(self) -> None:
        """One task per chip that wakes the loop when the earliest held send may go.

        Why not a task per wake, or a ``Tick``: a rate-gated chip waits a few
        milliseconds between sends, and at campaign rate spawning a sleeper for each
        wait and running the quality and window rules of a ``Tick`` each time cost 4 %
        of the daemon's CPU. The pending wake is this task's cancel-scope deadline."""
        while True:
            with self._wake_scope:
                await trio.sleep_forever()
            self._wake_scope = trio.CancelScope()
            self._wake_at = math.inf
            await self._events_send.send(_Wake())

    async def _settle(self, outbox_id: int, outcome: Any) -> None:
        item = self._in_flight.pop(outbox_id)
        closed_early = outbox_id in self._closed_in_flight
        self._closed_in_flight.discard(outbox_id)
        match outcome:
            case SendAccepted(wamid=wamid, wa_id=wa_id):
                self.accepted += 1  # journalled by _post already, like in_doubt
                await self._learn(wa_id=wa_id, phone=item.key, bsuid=None, behind=True)
                fallback = item.method == "free_form" and item.request.template is not None
                if fallback and not closed_early:
                    self._awaiting_fallback[outbox_id] = item  # until delivered or 131047
                item.request.reply.ok(Sent(outbox_id, wamid, item.method))
                if fallback and closed_early:
                    # Meta's 131047 webhook came before the POST's own answer: the
                    # window was closed after all, so the template goes now.
                    await self._fall_back(item)
            case SendInDoubt(reason=reason):
                item.request.reply.ok(Uncertain(outbox_id, reason))
            case SendFailed():
                await self._react(item, outcome)
            case _:
                raise AssertionError(f"unexpected outcome {outcome!r}")

    async def _fall_back(self, item: _Item) -> None:
        """Meta says the contact's window was closed (131047, by webhook) though a free-form
        message went out in it: believe it, and send the template instead, as a new
        outbox row (the webhook settled the first one)."""
        closed = self.windows.close_service(item.key)
        if closed is not None:
            await self._journal.save_windows(self.pnid, [(closed.key, closed.kind, None)])
        await self._accept(
            Send(
                to=item.key,
                template=item.request.template,
                category=item.request.category,
                reply=item.request.reply,
            )
        )

    async def _react(self, item: _Item, failed: SendFailed) -> None:
        """Apply the error table's reaction to a failed send (one place for all of them)."""
        now = self._now()
        what = f"{failed.code}: {failed.message}" if failed.code is not None else failed.message
        match failed.reaction:
            case Reaction.FALLBACK_TEMPLATE if item.request.template is not None:
                item.force_template = True
                await self._requeue(item, front=True)
            case Reaction.SLOW_CHIP:
                self.gate.on_throughput_error(now)
                await self._requeue(item, front=True)
            case Reaction.RETRY_RECIPIENT_LATER:
                self.gate.on_pair_rate_error(item.key, now)
                await self._requeue(item, front=True)
            case Reaction.RETRY_BACKOFF if item.attempts < MAX_RETRIES:
                item.attempts += 1
                item.not_before = now + min(30.0, 0.5 * 2**item.attempts)
                await self._requeue(item, front=False)
            case Reaction.PAUSE_CHIP if failed.code is not None:
                await self._journal_quality(
                    *q.from_error(self.quality, failed.code, now, self._cfg.quality)
                )
                log.error("chip %s paused by Meta error %s", self.pnid, what)
                await self._stopped_by(item, what)
            case (
                Reaction.STOP_TOKEN
                | Reaction.STOP_WABA
                | Reaction.STOP_PAID_SENDS
                | Reaction.PAUSE_CHIP
            ):
                log.error("chip %s stopped: %s (%s)", self.pnid, failed.reaction, what)
                await self._save(paused=True, pause_reason=f"{failed.reaction}: {what}")
                await self._stopped_by(item, what)
            case _:
                await self._fail(item, f"{failed.reaction}: {what}")

    async def _requeue(self, item: _Item, *, front: bool) -> None:
        await self._journal.outbox_set(item.outbox_id, "queued")
        if front:
            self._queue.appendleft(item)
        else:
            self._queue.append(item)

    async def _stopped_by(self, item: _Item, what: str) -> None:
        """Meta refused the message because of the number (a revoked token, a paused
        number, an account problem), not the recipient: it was never accepted, so it is
        cancelled — not failed — and the caller may send it from another number."""
        self.failed += 1
        await self._finish(item, Refused(f"chip paused: {what}", item.outbox_id), "cancelled")

    async def _fail(self, item: _Item, reason: str) -> None:
        self.failed += 1
        await self._finish(item, Refused(reason, item.outbox_id), "failed")

    async def _finish(self, item: _Item, result: SendResult, state: str) -> None:
        if item.reserved and self._budget is not None:
            await self._budget.release(f"o:{item.outbox_id}")
            item.reserved = False
        reason = result.reason if isinstance(result, Refused | Uncertain) else ""
        await self._journal.outbox_set(item.outbox_id, state, error={"reason": reason})
        item.request.reply.ok(result)

    async def _refuse_queue(self, reason: str) -> None:
        while self._queue:
            await self._finish(self._queue.popleft(), Refused(reason), "cancelled")


def _is_secret(asked: str, known: str) -> bool:
    """Whether a template's parameters are a one-time code the journal must not keep:
    an authentication template by the caller's word (OTP says so) or by Meta's
    registry, either one — a masked parameter costs a report nothing, a kept code is a
    live credential in the outbox."""
    return any(c.lower().startswith("authentication") for c in (asked, known))
