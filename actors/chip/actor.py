"""The actor that owns one phone number ("chip").

Why an actor per number: everything that decides whether a message may go out now —
windows, quality, tier, throughput, the pair rate — is per number and changes with every
send and every webhook. One task owning it means no locks and no lost updates; the pure
rules beside it (``window``, ``ratelimit``, ``quality``, ``decision``) hold the logic.

Sending never blocks the actor: a send is decided at once, then journalled (outbox
``queued``, and its budget reserved) by a task of its own, so the next message is read
while the database commits this one; journalled sends join the queue in the order they
arrived. The queue waits for the rate gate; each send that passes is marked ``sending``
(durable before the POST) and POSTed by a task of its own, which also journals the
answer (``accepted``/``in_doubt``) and hands the outcome back as a :class:`SendDone`
message. Mailbox messages and outcomes meet in one internal channel, so they are
handled one at a time; the tasks only wait for storage and Meta.

Every change is journalled before it counts: windows, quality transitions, outbox
states. Aliases a send's answer teaches (one per new contact) are journalled behind, in
order, by the chip's journal lane: a crash may forget the last few, and the next answer
from Meta teaches them again. A restart rebuilds the same windows and quality state;
messages it held are settled (``queued`` → cancelled, ``sending`` → in doubt, never
re-sent blindly).
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
from typing import Any, assert_never

import trio

from actors.chip import quality as q, wire
from actors.chip.contacts import ContactBook
from actors.chip.decision import Decision, decide
from actors.chip.messages import (
    ChipMsg,
    ChipSnapshot,
    Drain,
    GetSnapshot,
    Inbound,
    Pause,
    QualityEvent,
    Refused,
    Resume,
    Send,
    SendDone,
    SendResult,
    Sent,
    StatusEvent,
    Tick,
    Uncertain,
    WabaSwitch,
    WabaTemplates,
)
from actors.chip.plan import plan_send
from actors.chip.ratelimit import RateGate
from actors.chip.templates import TemplateBook
from actors.chip.window import WindowBook
from actors.core import ActorCrashed, ActorStopped, Address, CallTimeout
from actors.policy.pricing import PriceTable, UnknownDestination
from actors.ports import (
    BudgetPort,
    ChipJournal,
    ChipRecord,
    ChipRepo,
    GraphPort,
    SendAccepted,
    SendFailed,
    SendInDoubt,
)
from actors.reactions import Reaction
from actors.waba.killswitch import KillSwitch, restrict
from config.model import LimitsConfig, QualityConfig, WindowsConfig

__all__ = ["ChipActor", "ChipSettings"]

log = logging.getLogger("metad.chip")

MAX_IN_FLIGHT = 64
MAX_PREPARING = 8
"""Sends journalled at once per chip (each holds a budget call: a burst of thousands
must not fill the budget's mailbox)."""
MAX_RETRIES = 5
TICK_S = 5.0


@dataclass(frozen=True, slots=True)
class ChipSettings:
    windows: WindowsConfig
    limits: LimitsConfig
    quality: QualityConfig


@dataclass(slots=True)
class _Prep:
    """A send being journalled (outbox row, budget reservation) by a task of its own."""

    request: Send
    key: str
    method: str
    estimate: Decimal | None
    item: _Item | None = None
    done: bool = False
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Internal message: a :class:`_Prep` is journalled (or refused, or failed)."""

    prep: _Prep


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


MAX_ALIAS_BATCH = 500
BATCH = 64
"""Messages handled per scheduling step (see ``ChipActor._loop``)."""


def _fail(msg: object, actor_id: str) -> None:
    reply = getattr(msg, "reply", None)
    if reply is not None:
        reply.fail(ActorCrashed(actor_id))


class _MailboxClosed:
    """Internal marker: the daemon is stopping; finish what is in flight, then return."""


class ChipActor:
    def __init__(
        self,
        *,
        initial: ChipRecord,
        repo: ChipRepo,
        journal: ChipJournal,
        graph: GraphPort,
        settings: ChipSettings,
        inbox: trio.MemoryReceiveChannel[ChipMsg],
        address: Address[ChipMsg] | None = None,
        now: Callable[[], float],
        generation: int = 0,
        budget: BudgetPort | None = None,
        prices: PriceTable | None = None,
        marketing_messages: bool = False,
    ) -> None:
        self.actor_id = f"chip:{initial.phone_number_id}"
        self.pnid = initial.phone_number_id
        self._initial = initial
        self._repo = repo
        self._journal = journal
        self._graph = graph
        self._cfg = settings
        self._inbox = inbox
        self._address = address
        self._now = now
        self._generation = generation
        self._budget = budget
        self._prices = prices
        self._marketing_messages = marketing_messages
        self.record = initial
        self.contacts = ContactBook()
        self.windows = WindowBook(settings.windows)
        self.gate = RateGate(initial.throughput_mps, settings.limits, initial.messaging_limit_tier)
        self.quality = q.QualityState()
        self.switch = KillSwitch()
        self.templates = TemplateBook()
        self._queue: deque[_Item] = deque()
        self._preparing: deque[_Prep] = deque()
        """Sends being journalled, in arrival order (they join the queue in this order)."""
        self._prepare_slots = trio.CapacityLimiter(MAX_PREPARING)
        self._in_flight: dict[int, _Item] = {}
        self._awaiting_fallback: dict[int, _Item] = {}
        self._draining = False
        self._closing = False
        self.accepted = 0
        self.failed = 0
        self._wake_at = math.inf
        self._events_send, self._events_recv = trio.open_memory_channel[
            ChipMsg | _MailboxClosed | _Prepared
        ](MAX_IN_FLIGHT * 2)
        self._aliases_send, self._aliases_recv = trio.open_memory_channel[
            tuple[list[tuple[str, str]], trio.Event | None]
        ](math.inf)
        self._nursery: trio.Nursery | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def load(self) -> None:
        now = self._now()
        stored = await self._repo.load(self.pnid)
        if stored is None:
            self.record = dataclasses.replace(self._initial)
            await self._repo.save(self.record)
        else:
            # The config owns identity and declared limits; storage owns live state.
            self.record = dataclasses.replace(
                stored,
                waba_id=self._initial.waba_id,
                display_number=self._initial.display_number,
                throughput_mps=self._initial.throughput_mps,
            )
        await self._journal.settle_abandoned(self.pnid)
        self.contacts.load(await self._journal.load_aliases(self.pnid))
        self.windows.load(await self._journal.load_windows(self.pnid), now)
        rows = await self._journal.load_transitions(self.pnid)
        self.quality = q.rebuild([wire.transition(r) for r in rows], now, self._cfg.quality)
        await self._journal_quality(*q.tick(self.quality, now, self._cfg.quality))
        self.gate = RateGate(
            self.record.throughput_mps, self._cfg.limits, self.record.messaging_limit_tier
        )
        window_s = 86_400.0
        for sent in await self._journal.recent_sends(self.pnid, now - window_s):
            self.gate.commit(sent.key, sent.at, sent.business_initiated)
        self._apply_policy()

    async def run(self, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        await self.load()
        lane_done = trio.Event()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._pump)
            nursery.start_soon(self._ticker)
            nursery.start_soon(self._poller)
            nursery.start_soon(self._alias_lane, lane_done)
            task_status.started()
            try:
                await self._loop()
                self._aliases_send.close()
                await lane_done.wait()  # what the lane holds is written before we stop
            except BaseException:
                self._fail_all_held()
                self._fail_unread()
                raise
            nursery.cancel_scope.cancel()

    async def _loop(self) -> None:
        """Handle messages in order until the daemon stops and nothing is held.

        Why in batches: trio runs a task one step per scheduling round, so an actor
        that yields after every message handles one per round, and a round is long
        when the daemon is busy. What has queued meanwhile is handled without yielding
        (up to ``BATCH``), and the queue is dispatched once per batch."""
        recv = self._events_recv
        while True:
            try:
                first = await recv.receive()
            except trio.EndOfChannel:  # pragma: no cover - the pump ends with _MailboxClosed
                return
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(recv.receive_nowait())
                except trio.WouldBlock:
                    break
            for n, msg in enumerate(batch):
                try:
                    if isinstance(msg, _MailboxClosed):
                        self._closing = True
                        await self._refuse_queue("daemon stopping")
                    elif isinstance(msg, _Prepared):
                        await self._prepared(msg.prep)
                    else:
                        await self._handle_guarded(msg)
                except BaseException:  # the rest of the batch dies with this instance
                    for rest in batch[n + 1 :]:
                        _fail(rest, self.actor_id)
                    raise
                if self._closing and not self._in_flight and not self._preparing:
                    for rest in batch[n + 1 :]:
                        _fail(rest, self.actor_id)
                    return
            await self._dispatch()

    async def _pump(self) -> None:
        """Forwards the mailbox into the internal channel (keeps its backpressure), what
        has queued at once in one step."""
        inbox, out = self._inbox, self._events_send
        while True:
            try:
                msg = await inbox.receive()
            except trio.EndOfChannel:
                break
            held: list[ChipMsg | None] = [msg]
            while len(held) < BATCH:
                try:
                    held.append(inbox.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            try:
                for n, one in enumerate(held):
                    assert one is not None
                    try:
                        out.send_nowait(one)
                    except trio.WouldBlock:
                        await out.send(one)
                    held[n] = None
            except BaseException:  # this instance dies: its callers must not wait forever
                for left in held:
                    _fail(left, self.actor_id)
                raise
        await out.send(_MailboxClosed())

    async def _ticker(self) -> None:
        while True:
            await trio.sleep(TICK_S)
            await self._events_send.send(Tick())

    async def _poller(self) -> None:
        """Poll the number at start (a new number's tier and rating are unknown until
        then) and every ``poll_interval_s`` — degraded or not, so recovery is seen."""
        while True:
            await self.poll_once()
            await trio.sleep(self._cfg.quality.poll_interval_s)

    async def poll_once(self) -> None:
        try:
            body = await self._graph.phone_number(self.pnid)
        except Exception as exc:  # a failed poll is a missed sample, not a crash
            log.warning("chip %s: poll failed: %s", self.pnid, exc)
            return
        throughput = wire.throughput_of(body)
        await self._events_send.send(
            QualityEvent(observation=q.observation_from_poll(body), throughput_mps=throughput)
        )

    async def _handle_guarded(self, msg: ChipMsg) -> None:
        try:
            await self.handle(msg)
        except BaseException:
            reply = getattr(msg, "reply", None)
            if reply is not None:
                reply.fail(ActorCrashed(self.actor_id))
            raise

    def _fail_all_held(self) -> None:
        for item in (*self._queue, *self._in_flight.values()):
            item.request.reply.fail(ActorCrashed(self.actor_id))
        for prep in self._preparing:
            prep.request.reply.fail(ActorCrashed(self.actor_id))

    def _fail_unread(self) -> None:
        """Calls the pump had moved into the internal channel die with this instance
        (the mailbox itself survives a restart): answer them, never leave them hanging."""
        while True:
            try:
                msg = self._events_recv.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            _fail(msg, self.actor_id)

    async def _alias_lane(self, done: trio.Event) -> None:
        """Journals learnt aliases in the order they were learnt, batching what queued
        while the previous write committed; ends when the actor closes the lane."""
        try:
            async with self._aliases_recv:
                async for pairs, written in self._aliases_recv:
                    batch, events = list(pairs), [written]
                    while len(batch) < MAX_ALIAS_BATCH:
                        try:
                            more, written = self._aliases_recv.receive_nowait()
                        except (trio.WouldBlock, trio.EndOfChannel):
                            break
                        batch += more
                        events.append(written)
                    await self._journal.save_aliases(batch)
                    for event in events:
                        if event is not None:
                            event.set()
        finally:
            done.set()

    # --- messages -----------------------------------------------------------------------

    async def handle(self, msg: ChipMsg) -> None:
        match msg:
            case Send():
                await self._accept(msg)
            case SendDone(outbox_id=outbox_id, outcome=outcome):
                await self._settle(outbox_id, outcome)
            case Inbound():
                await self._inbound(msg)
            case StatusEvent():
                await self._status(msg)
            case QualityEvent(observation=obs, throughput_mps=mps):
                if mps is not None and mps != self.record.throughput_mps:
                    self.gate.set_throughput(mps, self._now())
                    await self._save(throughput_mps=mps)
                await self._journal_quality(
                    *q.observe(self.quality, obs, self._now(), self._cfg.quality)
                )
            case WabaSwitch(switch=switch):
                self.switch = switch
                self._apply_policy()
            case WabaTemplates(records=records):
                self.templates = TemplateBook(records)
            case GetSnapshot(reply=reply):
                reply.ok(self.snapshot())
            case Pause(reason=reason, reply=reply):
                await self._save(paused=True, pause_reason=reason)
                reply.ok(self.record)
            case Resume(reply=reply):
                self._draining = False
                await self._save(paused=False, pause_reason=None)
                reply.ok(self.record)
            case Drain(reply=reply):
                self._draining = True
                reply.ok(self.record)
            case Tick():
                now = self._now()
                self.windows.expire(now)
                await self._journal_quality(*q.tick(self.quality, now, self._cfg.quality))
            case _:
                assert_never(msg)

    def snapshot(self) -> ChipSnapshot:
        now = self._now()
        policy = self._policy()
        return ChipSnapshot(
            record=self.record,
            restarts=self._generation,
            mode=str(self.quality.mode),
            policy=policy.reason,
            open_windows=self.windows.open_count(now),
            queued=len(self._queue) + len(self._preparing),
            in_flight=len(self._in_flight),
            mps=self.gate.throttle.mps,
            tier_used=self.gate.tier.used(now),
            tier_limit=self.gate.tier.limit,
            draining=self._draining,
            accepted=self.accepted,
            failed=self.failed,
        )

    # --- sending ------------------------------------------------------------------------

    async def _accept(self, req: Send) -> None:
        if self._draining or self._closing:
            req.reply.ok(Refused("chip is draining" if self._draining else "daemon stopping"))
            return
        try:
            key = self.contacts.key_for_send(req.to)
        except ValueError:
            req.reply.ok(Refused(f"not a phone number or user id: {req.to!r}"))
            return
        if req.intent is not None and req.template is None:
            planned = self._plan(req, key)
            if isinstance(planned, str):
                req.reply.ok(Refused(planned))
                return
            req = planned
        verdict = self._decide(req, key, force_template=False)
        if verdict.method == "refuse":
            req.reply.ok(Refused(verdict.reason))
            return
        problem = self._template_problem(req) if verdict.method == "template" else None
        if problem is not None:
            req.reply.ok(Refused(problem))
            return
        estimate: Decimal | None = None
        if verdict.method == "template":
            priced = self._estimate(req, key)
            if isinstance(priced, str):
                req.reply.ok(Refused(priced))
                return
            estimate = priced
        prep = _Prep(req, key, verdict.method, estimate)
        self._preparing.append(prep)
        assert self._nursery is not None
        self._nursery.start_soon(self._prepare, prep, verdict)

    async def _prepare(self, prep: _Prep, verdict: Decision) -> None:
        """Journal the send (outbox ``queued``) and reserve its budget, off the actor's
        loop; the actor takes it from there in arrival order (:meth:`_prepared`)."""
        try:
            async with self._prepare_slots:
                await self._journal_new(prep, verdict)
        except Exception as exc:
            prep.error = exc  # raised in the actor's loop: a storage failure crashes it
        await self._events_send.send(_Prepared(prep))

    async def _journal_new(self, prep: _Prep, verdict: Decision) -> None:
        req, key = prep.request, prep.key
        outbox_id = await self._journal.outbox_new(
            chip=self.pnid,
            key=key,
            kind=verdict.method,
            payload=wire.payload(req, key, verdict.method),
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
        if outbox_id is None:
            why = f"campaign {req.campaign_id} already sent to recipient {req.recipient_id}"
            req.reply.ok(Refused(f"duplicate: {why}"))
            return
        item = _Item(req, key, outbox_id)
        refusal = await self._reserve(item, prep.estimate)
        if refusal is not None:
            await self._finish(item, Refused(refusal, outbox_id), "cancelled")
        else:
            prep.item = item

    async def _prepared(self, prep: _Prep) -> None:
        """Queue the journalled sends at the head of the arrival order."""
        prep.done = True
        while self._preparing and self._preparing[0].done:
            head = self._preparing.popleft()
            if head.error is not None:
                head.request.reply.fail(ActorCrashed(self.actor_id))
                raise head.error
            if head.item is None:
                continue  # refused (duplicate, budget); answered already
            if self._closing:
                await self._finish(head.item, Refused("daemon stopping"), "cancelled")
            else:
                self._queue.append(head.item)

    def _template_problem(self, req: Send) -> str | None:
        if req.template is None:
            return None
        name = str(req.template.get("name", ""))
        language = req.template.get("language", {})
        code = str(language.get("code", "")) if isinstance(language, dict) else str(language)
        status = self.templates.unusable(name, code)
        if status is None:
            return None
        return f"template {name}/{code} is {status} in WABA {self.record.waba_id}"

    def _plan(self, req: Send, key: str) -> Send | str:
        """Choose method and template for an intent; the refusal's reason otherwise."""
        if self._prices is None:
            return "no price table: cannot choose a method by cost"
        return plan_send(
            req,
            key,
            window=self.windows.state(key, self._now()),
            templates=self.templates,
            policy=self._policy(),
            prices=self._prices,
            marketing_messages=self._marketing_messages,
        )

    def _estimate(self, req: Send, key: str) -> Decimal | str | None:
        """The template's estimated cost (None: nothing to book); a refusal's reason."""
        if self._budget is None or self._prices is None:
            return None
        window = self.windows.state(key, self._now())
        try:
            estimate = self._prices.estimate(key, req.category, window)
        except UnknownDestination as exc:
            return f"pricing: {exc}"
        return estimate if estimate > 0 else None

    async def _reserve(self, item: _Item, estimate: Decimal | None) -> str | None:
        """Book the template's estimated cost; the reason when the budget says no."""
        if self._budget is None or estimate is None:
            return None
        ref = f"o:{item.outbox_id}"
        try:
            refusal = await self._budget.reserve(
                ref, estimate, waba=self.record.waba_id, campaign=item.request.campaign_id
            )
        except (ActorCrashed, ActorStopped, CallTimeout) as exc:
            # The budget is restarting or slow: not this chip's fault, and no reason to
            # crash it. The message is not sent now (the caller may try again), and a
            # reservation the budget might still book late is released.
            with contextlib.suppress(ActorStopped):
                await self._budget.release(ref)
            return f"budget unavailable: {exc}"
        item.reserved = refusal is None
        return refusal

    def _decide(self, req: Send, key: str, *, force_template: bool) -> Decision:
        return decide(
            has_content=req.content is not None,
            template_category=req.category if req.template is not None else None,
            window=self.windows.state(key, self._now()),
            policy=self._policy(),
            paused_reason=self.record.pause_reason if self.record.paused else None,
            force_template=force_template,
        )

    async def _dispatch(self) -> None:
        """Start every queued send the rules allow now; wake up later for the rest."""
        if not self._queue or self._closing:
            return
        now = self._now()
        earliest = math.inf
        kept: deque[_Item] = deque()
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
            verdict = self._decide(item.request, item.key, force_template=item.force_template)
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
            assert self._nursery is not None
            self._nursery.start_soon(
                self._post, item, wire.payload(item.request, item.key, item.method)
            )
        self._queue = kept
        if earliest < math.inf:
            self._schedule_wake(earliest)

    async def _post(self, item: _Item, payload: dict[str, Any]) -> None:
        """``sending`` durable, then the POST, then its answer journalled: the row never
        says less than Meta may know (exactly once), and the actor's loop never waits."""
        oid = item.outbox_id
        await self._journal.outbox_set(oid, "sending")
        outcome = await self._graph.send(self.pnid, payload, f"metad:o:{oid}", item.request.via)
        match outcome:
            case SendAccepted(wamid=wamid):
                await self._journal.outbox_set(oid, "accepted", wamid=wamid)
            case SendInDoubt(reason=reason):
                await self._journal.outbox_set(oid, "in_doubt", error={"reason": reason})
            case _:
                pass
        await self._events_send.send(SendDone(outbox_id=oid, outcome=outcome))

    def _schedule_wake(self, at: float) -> None:
        if at >= self._wake_at or self._nursery is None:
            return
        self._wake_at = at
        delay = max(0.0, at - self._now())

        async def wake() -> None:
            await trio.sleep(delay)
            if self._wake_at == at:
                self._wake_at = math.inf
            await self._events_send.send(Tick())

        self._nursery.start_soon(wake)

    async def _settle(self, outbox_id: int, outcome: Any) -> None:
        item = self._in_flight.pop(outbox_id)
        match outcome:
            case SendAccepted(wamid=wamid, wa_id=wa_id):
                self.accepted += 1  # journalled by _post already, like in_doubt
                await self._learn(wa_id=wa_id, phone=item.key, bsuid=None, behind=True)
                if item.method == "free_form" and item.request.template is not None:
                    self._awaiting_fallback[outbox_id] = item
                item.request.reply.ok(Sent(outbox_id, wamid, item.method))
            case SendInDoubt(reason=reason):
                item.request.reply.ok(Uncertain(outbox_id, reason))
            case SendFailed():
                await self._react(item, outcome)
            case _:
                raise AssertionError(f"unexpected outcome {outcome!r}")

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

    # --- webhooks -----------------------------------------------------------------------

    async def _learn(
        self, *, wa_id: str | None, phone: str | None, bsuid: str | None, behind: bool = False
    ) -> str | None:
        """Learn what Meta said about a contact; ``behind``: journal new aliases through
        the lane (a send's answer) instead of before returning (an inbound message)."""
        try:
            learned = self.contacts.learn_detailed(wa_id=wa_id, phone=phone, bsuid=bsuid)
        except ValueError:
            log.warning("chip %s: ignoring unusable contact id %r", self.pnid, wa_id or bsuid)
            return None
        changes = []
        for old in learned.merged:
            changes += self.windows.rekey(old, learned.key)
            self.gate.rekey(old, learned.key)
        if learned.new_aliases:
            # Through the lane either way, so an alias is never written out of order.
            pairs = [(a, learned.key) for a in learned.new_aliases]
            written = None if behind and not learned.merged else trio.Event()
            self._aliases_send.send_nowait((pairs, written))
            if written is not None:
                await written.wait()
        if changes:
            await self._journal.save_windows(
                self.pnid, [(c.key, c.kind, c.expires_at) for c in changes]
            )
        return learned.key

    async def _inbound(self, msg: Inbound) -> None:
        key = await self._learn(wa_id=msg.wa_id, phone=None, bsuid=msg.bsuid)
        if key is None:
            return
        changes = [self.windows.on_inbound(key, msg.at)]
        if msg.referral:
            changes.append(self.windows.on_referral(key, msg.at))
        real = [(c.key, c.kind, c.expires_at) for c in changes if c is not None]
        if real:
            await self._journal.save_windows(self.pnid, real)

    async def _status(self, msg: StatusEvent) -> None:
        if msg.outbox_id is None:
            return
        if msg.status in ("delivered", "read"):
            self._awaiting_fallback.pop(msg.outbox_id, None)  # it arrived: no fallback
            return
        if msg.status != "failed" or msg.error_code is None:
            return
        item = self._awaiting_fallback.pop(msg.outbox_id, None)
        if msg.error_code == 131047 and item is not None:
            # Meta says the window was closed after all: believe it, and send the
            # template instead, as a new outbox row (the webhook settled the first one).
            closed = self.windows.close_service(item.key)
            if closed is not None:
                await self._journal.save_windows(self.pnid, [(closed.key, closed.kind, None)])
            retry = Send(
                to=item.key,
                template=item.request.template,
                category=item.request.category,
                reply=item.request.reply,
            )
            await self._accept(retry)
        elif msg.error_code in q.ERROR_HOLDS:
            now = self._now()
            await self._journal_quality(
                *q.from_error(self.quality, msg.error_code, now, self._cfg.quality)
            )

    # --- quality --------------------------------------------------------------------------

    def _policy(self) -> q.SendPolicy:
        return restrict(q.policy(self.quality, self._cfg.quality), self.switch, self._now())

    def _apply_policy(self) -> None:
        self.gate.set_quality_fraction(self._policy().throughput_fraction, self._now())

    async def _journal_quality(
        self, state: q.QualityState, transitions: list[q.QualityTransition]
    ) -> None:
        if transitions:
            await self._journal.save_transitions(
                self.pnid, [dataclasses.asdict(t) for t in transitions]
            )
            for t in transitions:
                log.info(
                    "chip %s quality %s/%s → %s/%s (%s): %s",
                    self.pnid,
                    t.from_rating,
                    t.from_mode,
                    t.to_rating,
                    t.to_mode,
                    t.cause,
                    t.reason,
                )
        self.quality = state
        self._apply_policy()
        if state.tier is not None and state.tier != self.record.messaging_limit_tier:
            self.gate.set_tier(state.tier)
        fields = {
            "status": state.status,
            "quality_rating": str(state.rating),
            "messaging_limit_tier": state.tier or self.record.messaging_limit_tier,
        }
        if any(getattr(self.record, k) != v for k, v in fields.items()):
            await self._save(**fields)

    async def _save(self, **changes: Any) -> None:
        # Persist before the new state becomes visible: a crash never shows a state
        # that storage does not have.
        new = dataclasses.replace(self.record, **changes)
        await self._repo.save(new)
        self.record = new
