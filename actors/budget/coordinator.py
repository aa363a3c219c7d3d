"""The budget coordinator: the one place that books money, so caps hold under concurrency.

Why an actor: every chip reserves before a paid send; if each checked the caps itself,
fifty chips reserving at once could all see the same headroom. Here reservations are
handled one at a time against the pure :class:`~actors.budget.ledger.Ledger`, each
booking is journalled before it is answered, and a restart replays the journal.
Chips only call it (it never calls a chip), so there is no call cycle.

Why the mailbox is read in batches: every paid send reserves here and every status
webhook with a price settles here, so at fleet rate this actor gets a message per
send and two more per delivery. Read one at a time, each costs a trio scheduling round
(and the journal writer a wake-up); what has queued meanwhile is handled at once, in
order, without yielding (:data:`MAILBOX_BATCH`), so the writer finds the whole batch's
entries together and journals them in one transaction.

Why a reconciliation beside the mailbox: chips release what they give up on, but a
message can end outside any chip (a restart cancels the rows a dead chip held, the
operator drops or re-sends one in doubt, a status webhook fails one Meta accepted).
The outbox row is the truth about a message, so a
:class:`~actors.budget.reconciliation.Reconciliation` beside the mailbox reads the rows
of the reservations held longer than a grace period, at start and every
``reconcile_every_s``, and releases those that can no longer be charged
(:mod:`actors.budget.reconcile`); a :class:`Reconcile` message asks for given messages
at once (the operator's decision). No query is added to a send's path.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

import trio

from actors.base import Actor
from actors.budget.checkpointing import CHECKPOINT_EVERY_S, Checkpointing, replay
from actors.budget.ledger import RETAIN_SETTLED_S, Ledger
from actors.budget.messages import (
    BudgetMsg,
    GetBudget,
    Reconcile,
    Release,
    Reserve,
    SetCampaignCap,
    Settle,
)
from actors.budget.periods import PERIODS
from actors.budget.ports import BudgetJournal, Checkpoints, OutboxStates, Recall, SharedJournal
from actors.budget.recall import SETTLED_MEMORY_S, SettledRecall
from actors.budget.reconciliation import (
    RECONCILE_EVERY_S,
    RECONCILE_GRACE_S,
    Reconciliation,
)
from actors.budget.settle_order import SettleOrder
from actors.budget.values import GLOBAL, Alert, Caps, LedgerEntry, Refusal, Registered, Scope
from actors.core import ActorCrashed, ReplyTo
from actors.policy.pricing import PriceTable, UnknownDestination

__all__ = ["CHECKPOINT_EVERY_S", "BudgetCoordinator"]

log = logging.getLogger("metad.budget")

MAILBOX_BATCH = 256
"""Messages handled per scheduling step (see the module docstring)."""
SETTLED_MEMORY = 50_000
"""Settlements remembered to skip a repeat (Meta prices both ``sent`` and ``delivered``)."""
PRUNE_EVERY_S = 3600.0
"""How often the ledger forgets settled messages past its retention and closed periods
(:meth:`~actors.budget.ledger.Ledger.prune`): at a million messages a day it would
otherwise hold every message since the daemon started."""


def _fail_all(batch: Sequence[BudgetMsg], actor_id: str) -> None:
    """The callers in ``batch`` hear that this instance died (it is restarted)."""
    for msg in batch:
        reply = getattr(msg, "reply", None)
        if isinstance(reply, ReplyTo):
            reply.fail(ActorCrashed(actor_id))


class _Answers:
    """The answer to one :class:`Reserve`: sent once every booking has its own.

    A booking is answered at once (a refusal, or one held already) or once its entry is
    committed (or, with shared caps, refused after all by the writer); :meth:`part` is
    what each booking's answer goes to."""

    __slots__ = ("_left", "_reply", "_results")

    def __init__(self, reply: ReplyTo[list[str | None]], n: int) -> None:
        self._reply = reply
        self._results: list[str | None] = [None] * n
        self._left = n
        if n == 0:
            reply.ok([])

    def part(self, n: int) -> _Part:
        return _Part(self, n)

    def put(self, n: int, value: str | None) -> None:
        self._results[n] = value
        self._left -= 1
        if self._left == 0:
            self._reply.ok(self._results)

    def fail(self, exc: BaseException) -> None:
        self._reply.fail(exc)


@dataclass(frozen=True, slots=True)
class _Part:
    """One booking's place in an :class:`_Answers` (a reply slot's ``ok``/``fail``)."""

    answers: _Answers
    n: int

    def ok(self, value: str | None) -> None:
        self.answers.put(self.n, value)

    def fail(self, exc: BaseException) -> None:
        self.answers.fail(exc)


@dataclass(frozen=True, slots=True)
class _Journalled:
    """An entry waiting for the journal writer, with what to do once it is committed."""

    entry: LedgerEntry
    alerts: tuple[Any, ...]
    reply: _Part | None
    reuse: bool = False
    """Shared caps: a reservation the ledger held when a send asked for it again. It is
    confirmed under the shared lock (another daemon may have released it meanwhile:
    then it is booked afresh) instead of being answered at once."""
    made: int = 0
    """Shared caps: its :meth:`SettleOrder.made` stamp."""


class BudgetCoordinator(Actor[BudgetMsg]):
    def __init__(
        self,
        *,
        ledger: Callable[[], Ledger],
        prices: PriceTable,
        journal: BudgetJournal,
        inbox: trio.MemoryReceiveChannel[BudgetMsg],
        now: Callable[[], float],
        publish: Callable[[str, dict[str, Any]], None] = lambda kind, data: None,
        campaign_caps: dict[str, Registered] | None = None,
        shared: SharedJournal | None = None,
        catch_up_s: float = 1.0,
        outbox: OutboxStates | None = None,
        reconcile_every_s: float = RECONCILE_EVERY_S,
        reconcile_grace_s: float = RECONCILE_GRACE_S,
    ) -> None:
        super().__init__("budget", inbox)
        if outbox is None and isinstance(journal, OutboxStates):
            outbox = journal  # the store's journal reads the outbox too
        self._reconciliation = (
            None
            if outbox is None
            else Reconciliation(
                self,
                outbox,
                now=now,
                shared=shared,
                every_s=reconcile_every_s,
                grace_s=reconcile_grace_s,
            )
        )
        """Reads the outbox rows of held reservations; None (no outbox): none."""
        self._loaded = trio.Event()
        self._checkpoints = (
            Checkpointing(journal, self, self._writer_parked)
            if isinstance(journal, Checkpoints) and isinstance(journal, Recall)
            else None
        )
        """None (a journal without checkpoints): every start replays the journal back
        to the oldest current period. A start from a checkpoint holds no settled
        message, so it needs a journal it can recall them from."""
        self._recall = (
            SettledRecall(journal, self, shared=shared is not None)
            if isinstance(journal, Recall)
            else None
        )
        """Recalls settled messages the ledger does not hold before a later price; None
        (a journal without it): the ledger keeps them 8 days and a start replays them."""
        self._prune_at = -math.inf
        """When the ledger is next pruned; the first batch after a start prunes what
        the journal's load brought back."""
        self._shared = shared
        """Set when several daemons share the caps: each batch is booked under one
        advisory lock after the other daemons' entries (a reservation that no longer
        fits is refused), and the ledger catches up every ``catch_up_s``."""
        self._high_water = 0
        """The last journal entry the ledger holds: where a checkpoint stands, and with
        shared caps where the next booking reads the other daemons' entries from. One
        daemon learns it from a journal that keeps :class:`Checkpoints` (0 otherwise)."""
        self._catch_up_s = catch_up_s
        self._shared_lock = trio.Lock()
        self._campaign_caps = {} if campaign_caps is None else campaign_caps
        """Caps set by :class:`SetCampaignCap`; owned by the caller so that they outlive
        a restart of this actor (caps are configuration, not journal)."""
        self._new_ledger = ledger
        self.ledger = ledger()
        self._prices = prices
        self._journal = journal
        self._now = now
        self._publish = publish
        self._settled: dict[str, tuple[Any, ...]] = {}
        """Message id → the pricing it was last settled with (at most SETTLED_MEMORY)."""
        self._settle_order = SettleOrder()
        """Shared caps: other daemons' entries applied since ours were made."""

    async def run(self, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        """The mailbox loop beside one journal writer (see :meth:`_journal_writer`)."""
        send, recv = trio.open_memory_channel[_Journalled](math.inf)
        self._journal_send = send
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._journal_writer, recv)
            try:
                # The periodic helpers end with the mailbox; the writer outlives it to
                # journal what the last batch booked.
                async with trio.open_nursery() as helpers:
                    if self._shared is not None:
                        helpers.start_soon(self._catch_up)
                    if self._reconciliation is not None:
                        helpers.start_soon(self._reconciliation.run, self._loaded)
                    if self._checkpoints is not None:
                        helpers.start_soon(self._checkpoints.saver)
                    await self._mailbox_loop(task_status)
                    helpers.cancel_scope.cancel()
            finally:
                send.close()  # the writer drains what is queued, then ends
        if self._checkpoints is not None:
            await self._checkpoints.last(self._high_water, self._now())

    async def _mailbox_loop(self, task_status: trio.TaskStatus[Any]) -> None:
        """:class:`~actors.base.Actor`'s loop (same crash contract), in batches."""
        await self.load()
        self._loaded.set()
        task_status.started()
        inbox = self._inbox
        while True:
            try:
                first = await inbox.receive()
            except trio.EndOfChannel:
                break
            batch = [first]
            while len(batch) < MAILBOX_BATCH:
                try:
                    batch.append(inbox.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            if self._recall is not None:
                try:
                    await self._recall.before(batch, self._high_water)
                except BaseException:
                    _fail_all(batch, self.actor_id)
                    raise
            for n, msg in enumerate(batch):
                try:
                    await self.handle(msg)
                except BaseException:  # the rest of the batch dies with this instance
                    _fail_all(batch[n:], self.actor_id)
                    raise
            now = self._now()
            self._prune(now)
            if self._checkpoints is not None:
                await self._checkpoints.take(now)
        await self.stopped()

    def _writer_parked(self) -> bool:
        """The journal writer waits for entries: it has written all it was given (an
        entry handed to it un-parks it at once, before it even runs)."""
        return self._journal_send.statistics().tasks_waiting_receive > 0

    def _prune(self, now: float) -> None:
        """Forget, at most every :data:`PRUNE_EVERY_S`, what the ledger no longer needs.
        Between batches (a pass costs what it drops): only when messages flow does the
        ledger grow."""
        if now < self._prune_at:
            return
        self._prune_at = now + PRUNE_EVERY_S
        if self._recall is None:
            dropped = self.ledger.prune(now, RETAIN_SETTLED_S)
        else:
            dropped = self.ledger.prune(now, SETTLED_MEMORY_S, self._recall.forgot)
        if dropped:
            log.info("budget: forgot %d settled message(s) and closed period(s)", dropped)

    async def _journal_writer(self, recv: trio.MemoryReceiveChannel[_Journalled]) -> None:
        """Group commit, in order: every entry queued while one transaction was being
        written goes into the next one. The ledger is updated at once (the next
        reservation sees this one), but a reservation is answered only after its entry
        is committed, so a crash can never forget money that a chip was told it has.
        Why not a commit per entry: each is a WAL flush, and with every chip reserving
        through this one actor those flushes were the fleet's send rate."""
        async with recv:
            async for first in recv:
                batch = [first]
                while True:
                    try:
                        batch.append(recv.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                refused: dict[int, str | None] = {}
                try:
                    if self._shared is None:
                        last = await self._journal.save_entries([j.entry.to_json() for j in batch])
                        if last is not None:
                            self._high_water = last
                    else:
                        refused = await self._book_shared(batch)
                except BaseException:
                    for j in batch:
                        if j.reply is not None:
                            j.reply.fail(ActorCrashed(self.actor_id))
                    raise
                for n, j in enumerate(batch):
                    if n in refused:
                        if j.reply is not None:
                            j.reply.ok(refused[n])
                        continue
                    for alert in j.alerts:
                        log.warning("budget alert: %s", alert.message)
                        self._publish("budget", alert.to_json())
                    if j.reply is not None:
                        j.reply.ok(None)
                if self._checkpoints is not None:
                    self._checkpoints.written(empty=not recv.statistics().current_buffer_used)

    async def _book_shared(self, batch: Sequence[_Journalled]) -> dict[int, str | None]:
        """Book ``batch`` after what other daemons booked (under the shared lock); the
        reservations that no longer fit are taken back and their refusals returned, with
        None for a reused reservation that was still held (nothing written for it)."""
        assert self._shared is not None
        refused: dict[int, str | None] = {}
        reused: set[int] = set()
        fresh: list[Any] = []

        def decide(others: list[dict[str, Any]]) -> list[dict[str, Any]]:
            refused.clear()
            reused.clear()
            fresh.clear()
            self.apply_others(others)
            keep: list[dict[str, Any]] = []
            for n, j in enumerate(batch):
                e = j.entry
                if j.reuse:
                    if self.ledger.reserved(e.id) is not None:
                        reused.add(n)  # still held: nothing to write
                        continue
                    # Released meanwhile (by another daemon's reconciliation): this send
                    # needs its own reservation, checked against the caps like any.
                    booked = self.ledger.reserve(
                        e.id, e.amount, e.at, waba=e.waba, campaign=e.campaign
                    )
                    if isinstance(booked, Refusal):
                        refused[n] = booked.reason
                    else:
                        fresh.extend(booked.alerts)
                        keep.append(e.to_json())
                    continue
                if e.op == "settle":
                    e = self._in_journal_order(e, j.made)
                if e.op == "reserve" and e.amount > 0:
                    left = self.ledger.remaining(e.at, waba=e.waba, campaign=e.campaign)
                    over = sorted(label for label, amount in left.items() if amount < 0)
                    if over:
                        self.ledger.release(e.id, e.at)  # never journalled: undone here
                        refused[n] = (
                            f"budget: {over[0]} cap would be crossed"
                            " (booked meanwhile by another daemon)"
                        )
                        continue
                keep.append(e.to_json())
            return keep

        shared = self._shared
        await self.locked(lambda position: shared.serialized(position, decide))
        self._settle_order.written(max(j.made for j in batch))
        for n in reused:
            refused[n] = None
        for alert in fresh:
            log.warning("budget alert: %s", alert.message)
            self._publish("budget", alert.to_json())
        return refused

    def apply_others(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            entry = LedgerEntry.from_json(row)
            if entry.op == "reserve":
                if self.ledger.reserved(entry.id) is not None:
                    continue  # held already (a resend of one in doubt on another daemon)
                # Settled here before its reservation was learnt (our settlement is not
                # written yet): the reservation first, our settlement again after it.
                self.ledger.unbook(entry.id)
            for alert in self.ledger.apply(entry):
                del alert  # announced by the daemon that booked it
            self._settle_order.applied(entry)

    def _in_journal_order(self, entry: LedgerEntry, made: int) -> LedgerEntry:
        """Our settlement as written now, after what other daemons wrote meanwhile
        (:mod:`actors.budget.settle_order`); the ledger follows the journal's order."""
        written, again = self._settle_order.as_written(entry, made)
        if again:  # another daemon's entry was applied after ours: ours is the latest
            self.ledger.apply(written)
        self._settle_order.applied(written)
        return written

    async def _catch_up(self) -> None:
        """Learn other daemons' bookings while this one books nothing (status, caps)."""
        assert self._shared is not None
        shared = self._shared

        def learn(others: list[dict[str, Any]]) -> list[dict[str, Any]]:
            self.apply_others(others)
            return []

        while True:
            await trio.sleep(self._catch_up_s)
            await self.locked(lambda position: shared.serialized(position, learn))

    async def locked(self, step: Callable[[int], Awaitable[int]]) -> None:
        """Run ``step`` from the journal position under the shared lock and move the
        position to what it returns (shared caps: a booking, a catch-up, a pass of the
        reconciliation)."""
        async with self._shared_lock:
            self._high_water = await step(self._high_water)

    def persist(
        self,
        entry: LedgerEntry,
        alerts: Sequence[Alert] = (),
        reply: _Part | None = None,
    ) -> None:
        """Hand ``entry`` to the journal writer (see :meth:`_journal_writer`)."""
        made = self._settle_order.made() if self._shared is not None else 0
        self._journal_send.send_nowait(_Journalled(entry, tuple(alerts), reply, made=made))

    def _empty_ledger(self) -> Ledger:
        ledger = self._new_ledger()
        for campaign_id, registered in self._campaign_caps.items():
            ledger.register_caps(
                Scope.campaign(campaign_id), registered.caps, month=registered.month
            )
        return ledger

    async def load(self) -> None:
        self.ledger = self._empty_ledger()
        self._settled.clear()
        now = self._now()
        restored = None
        if self._checkpoints is not None:
            self._checkpoints.started(now)
            restored = await self._checkpoints.restore(self._empty_ledger, now)
            if restored is not None:
                self.ledger, self._high_water = restored
        if restored is None:
            since = self.ledger.replay_from(now)
            if self._shared is not None:
                rows, self._high_water = await self._shared.load_marked(since)
            elif self._checkpoints is not None:  # the position, for the first checkpoint
                rows, self._high_water = await self._checkpoints.store.load_marked(since)
            else:
                rows = await self._journal.load_entries(since)
            await replay(self.ledger, rows)
        if self._recall is not None:
            await self._recall.loaded(self._high_water)

    async def handle(self, msg: BudgetMsg) -> None:
        now = self._now()
        match msg:
            case Reserve(bookings=bookings, reply=reply):
                answers = _Answers(reply, len(bookings))
                for n, b in enumerate(bookings):
                    if self.ledger.reserved(b.ref) is not None:
                        # The same message again (a cancelled row taken over by a new
                        # attempt): its cost is booked already, once is enough. Noted so
                        # that a reconciliation that read the row before it was taken
                        # over does not release it; with shared caps, confirmed under the
                        # lock (see _Journalled.reuse).
                        if self._shared is not None:
                            entry = LedgerEntry(
                                op="reserve",
                                id=b.ref,
                                amount=b.amount,
                                at=now,
                                waba=b.waba,
                                campaign=b.campaign,
                            )
                            self._journal_send.send_nowait(
                                _Journalled(
                                    entry,
                                    (),
                                    answers.part(n),
                                    reuse=True,
                                    made=self._settle_order.made(),
                                )
                            )
                            continue
                        if self._reconciliation is not None:
                            self._reconciliation.reused(b.ref, now)
                        answers.put(n, None)
                        continue
                    booked = self.ledger.reserve(
                        b.ref, b.amount, now, waba=b.waba, campaign=b.campaign
                    )
                    if isinstance(booked, Refusal):
                        answers.put(n, booked.reason)
                    else:  # answered once durable
                        self.persist(booked.entry, booked.alerts, answers.part(n))
            case Release(id=rid):
                released = self.ledger.release(rid, now)
                if released is not None:
                    self.persist(released.entry)
            case Reconcile(refs=refs):
                if self._reconciliation is not None:
                    self._reconciliation.ask(refs)
            case Settle(id=rid, pricing=pricing, wa_id=wa_id, waba=waba, campaign=campaign):
                # The same price again (``sent`` then ``delivered``): settled already,
                # the ledger would book nothing (and, had it pruned the message, would
                # count it twice).
                seen = (
                    wa_id,
                    pricing.billable,
                    pricing.pricing_model,
                    pricing.category,
                    pricing.type,
                )
                if self._settled.get(rid) == seen:
                    return
                try:
                    actual = self._prices.settle(pricing, wa_id)
                except (UnknownDestination, ValueError) as exc:
                    log.warning("cannot price message %s (%s); keeping the estimate", rid, exc)
                    return
                settled = self.ledger.settle(rid, actual, now, waba=waba, campaign=campaign)
                if settled.entry is not None:
                    self.persist(settled.entry, settled.alerts)
                self._remember(rid, seen)
            case GetBudget(reply=reply):
                reply.ok(self.status(now))
            case SetCampaignCap(campaign_id=campaign_id, caps=caps, reply=reply, month=month):
                # The first registration since the daemon started follows a restart
                # when the campaign has spent already: the thresholds it had crossed were
                # announced when crossed, so they are marked, not announced again.
                first = campaign_id not in self._campaign_caps
                self.ledger.register_caps(Scope.campaign(campaign_id), caps, month=month)
                if caps == Caps():
                    self._campaign_caps.pop(campaign_id, None)
                else:
                    self._campaign_caps[campaign_id] = Registered(caps, month)
                for alert in self.ledger.alerts(now):  # thresholds the new caps put behind
                    if first and alert.cap.scope == Scope.campaign(campaign_id):
                        continue
                    log.warning("budget alert: %s", alert.message)
                    self._publish("budget", alert.to_json())
                reply.ok(None)
            case _:
                assert_never(msg)

    def _remember(self, rid: str, pricing: tuple[Any, ...]) -> None:
        settled = self._settled
        settled.pop(rid, None)
        settled[rid] = pricing
        if len(settled) > SETTLED_MEMORY:
            del settled[next(iter(settled))]  # the oldest

    def status(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind in PERIODS:
            usage = self.ledger.usage(GLOBAL, kind, now)
            out[kind] = {
                "spent": str(usage.spent),
                "reserved": str(usage.reserved),
                "cap": None if usage.cap is None else str(usage.cap),
            }
        return out
