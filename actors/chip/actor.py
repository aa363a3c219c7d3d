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
handled one at a time; the tasks only wait for storage and Meta. The pipeline itself
is :class:`~actors.chip.send.SendPipeline`, a mixin of this class.

Every change is journalled before it counts: windows, quality transitions, outbox
states. Aliases a send's answer teaches (one per new contact) are journalled behind, in
order, by the chip's journal lane: a crash may forget the last few, and the next answer
from Meta teaches them again. A restart rebuilds the same windows and quality state;
messages it held are settled (``queued`` → cancelled, ``sending`` → in doubt, never
re-sent blindly).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, assert_never

import trio

from actors.chip import quality as q, wire
from actors.chip.contacts import ContactBook
from actors.chip.messages import (
    ChipMsg,
    ChipSnapshot,
    Drain,
    GetSnapshot,
    Inbound,
    Pause,
    QualityEvent,
    Resume,
    Send,
    SendDone,
    StatusEvent,
    Tick,
    WabaSwitch,
    WabaTemplates,
)
from actors.chip.ratelimit import RateGate
from actors.chip.send import MAX_IN_FLIGHT, SendPipeline, _Prepared, _Wake
from actors.chip.templates import TemplateBook
from actors.chip.window import WindowBook
from actors.core import ActorCrashed, Address
from actors.policy.pricing import PriceTable
from actors.ports import (
    BudgetPort,
    ChipJournal,
    ChipRecord,
    ChipRepo,
    GraphPort,
)
from actors.waba.killswitch import KillSwitch, restrict
from config.model import LimitsConfig, QualityConfig, WindowsConfig

__all__ = ["ChipActor", "ChipSettings"]

log = logging.getLogger("metad.chip")

TICK_S = 5.0


@dataclass(frozen=True, slots=True)
class ChipSettings:
    windows: WindowsConfig
    limits: LimitsConfig
    quality: QualityConfig


MAX_ALIAS_BATCH = 500
BATCH = 64
"""Messages handled per scheduling step (see ``ChipActor._loop``)."""


def _fail(msg: object, actor_id: str) -> None:
    reply = getattr(msg, "reply", None)
    if reply is not None:
        reply.fail(ActorCrashed(actor_id))


class _MailboxClosed:
    """Internal marker: the daemon is stopping; finish what is in flight, then return."""


class ChipActor(SendPipeline):
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
        self._policy_of: q.QualityState | None = None
        """The quality state ``_quality_policy`` was derived from (see ``_policy``)."""
        self._quality_policy = q.policy(self.quality, settings.quality)
        self.switch = KillSwitch()
        self.templates = TemplateBook()
        self._queue = deque()
        self._preparing = deque()
        """Sends being journalled, in arrival order (they join the queue in this order)."""
        self._unjournalled = []
        """Sends accepted and not yet taken by the journal lane (a part of ``_preparing``)."""
        self._journalling = False
        """The journal lane is running (:meth:`_journal_lane`)."""
        self._in_flight = {}
        self._awaiting_fallback = {}
        self._closed_in_flight = set()
        self._draining = False
        self._closing = False
        self.accepted = 0
        self.failed = 0
        self._wake_at = math.inf
        self._wake_scope = trio.CancelScope()
        self._events_send, self._events_recv = trio.open_memory_channel[
            ChipMsg | _MailboxClosed | _Prepared | _Wake
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
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._pump)
                nursery.start_soon(self._ticker)
                nursery.start_soon(self._waker)
                nursery.start_soon(self._poller)
                nursery.start_soon(self._alias_lane, lane_done)
                task_status.started()
                await self._loop()
                self._aliases_send.close()
                await lane_done.wait()  # what the lane holds is written before we stop
                nursery.cancel_scope.cancel()
        except BaseException:
            # Only once the nursery's tasks are done: the pump, woken with a message
            # before the cancellation reached it, may still move it into the internal
            # channel, and a journalling task may still hand back its send.
            self._fail_all_held()
            self._fail_unread()
            raise

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
                        await self._prepared(msg.preps)
                    elif isinstance(msg, _Wake):
                        pass  # the dispatch after this batch is what it is for
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
        if msg.error_code == 131047 and item is None and msg.outbox_id in self._in_flight:
            # The webhook overtook the POST's own answer (Meta may send it within
            # milliseconds): the fallback waits for that answer (SendPipeline._settle).
            self._closed_in_flight.add(msg.outbox_id)
        elif msg.error_code == 131047 and item is not None:
            await self._fall_back(item)
        elif msg.error_code in q.ERROR_HOLDS:
            now = self._now()
            await self._journal_quality(
                *q.from_error(self.quality, msg.error_code, now, self._cfg.quality)
            )

    # --- quality --------------------------------------------------------------------------

    def _policy(self) -> q.SendPolicy:
        # The quality policy depends on the quality state alone, which is replaced, never
        # changed: derived once per state, not on every send decision.
        if self._policy_of is not self.quality:
            self._quality_policy = q.policy(self.quality, self._cfg.quality)
            self._policy_of = self.quality
        return restrict(self._quality_policy, self.switch, self._now())

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
                log.log(
                    logging.WARNING if t.worse else logging.INFO,
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
