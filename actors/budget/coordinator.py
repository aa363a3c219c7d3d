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
The outbox row is the truth about a message, so :meth:`BudgetCoordinator._reconciler`
reads the rows of the reservations held longer than a grace period, at start and every
``reconcile_every_s``, and releases those that can no longer be charged
(:mod:`actors.budget.reconcile`); a :class:`Reconcile` message asks for given messages
at once (the operator's decision). No query is added to a send's path.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

import trio

from actors.base import Actor
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
from actors.budget.ports import BudgetJournal, Checkpoints, OutboxStates, SharedJournal
from actors.budget.reconcile import RowState, outbox_ref, to_release
from actors.budget.values import GLOBAL, Caps, LedgerEntry, Refusal, Release as LedgerRelease, Scope
from actors.core import ActorCrashed, ReplyTo
from actors.policy.pricing import PriceTable, UnknownDestination

__all__ = ["BudgetCoordinator"]

log = logging.getLogger("metad.budget")

MAILBOX_BATCH = 256
"""Messages handled per scheduling step (see the module docstring)."""
SETTLED_MEMORY = 50_000
"""Settlements remembered to skip a repeat (Meta prices both ``sent`` and ``delivered``)."""
CHECKPOINT_EVERY_S = 3600.0
"""How often the ledger's checkpoint is stored (:meth:`Ledger.checkpoint`): a start
replays the journal after the latest one, and the 8 days before it."""
CHECKPOINT_WAIT_S = 1.0
"""The longest the mailbox waits for the journal writer to take a checkpoint."""
PRUNE_EVERY_S = 3600.0
"""How often the ledger forgets settled messages past its retention and closed periods
(:meth:`~actors.budget.ledger.Ledger.prune`): at a million messages a day it would
otherwise hold every message since the daemon started."""
RECONCILE_EVERY_S = 60.0
"""How often held reservations are checked against their outbox rows."""
RECONCILE_GRACE_S = 30.0
"""A reservation this young, or a row that ended this recently, is left to the send path
(which releases within milliseconds of ending a row, see :mod:`actors.budget.reconcile`)."""


class _Diverged(Exception):
    """A shared reconciliation failed after it had changed the ledger (see
    :meth:`BudgetCoordinator._reconciler`)."""


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
        campaign_caps: dict[str, Caps] | None = None,
        shared: SharedJournal | None = None,
        catch_up_s: float = 1.0,
        outbox: OutboxStates | None = None,
        reconcile_every_s: float = RECONCILE_EVERY_S,
        reconcile_grace_s: float = RECONCILE_GRACE_S,
    ) -> None:
        super().__init__("budget", inbox)
        if outbox is None and isinstance(journal, OutboxStates):
            outbox = journal  # the store's journal reads the outbox too
        self._outbox = outbox
        """Where the reconciliation reads outbox rows; None: no reconciliation."""
        self._reconcile_every_s = reconcile_every_s
        self._reconcile_grace_s = reconcile_grace_s
        self._reused: dict[str, float] = {}
        """Reservation id → when a send last found it held and reused it (one daemon,
        with reconciliation): kept by a reconciliation that read rows before then."""
        self._asked_send, self._asked = trio.open_memory_channel[tuple[str, ...]](math.inf)
        self._loaded = trio.Event()
        self._checkpoints = journal if isinstance(journal, Checkpoints) else None
        """Where checkpoints are kept; None (a journal without them): every start
        replays the journal back to the oldest current period."""
        self._checkpoint_at = math.inf
        self._saves_send, self._saves = trio.open_memory_channel[tuple[int, dict[str, Any]]](1)
        self._drained: trio.Event | None = None
        """Set by the journal writer when it has written everything (a checkpoint waits)."""
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
                    if self._outbox is not None:
                        helpers.start_soon(self._reconciler)
                    if self._checkpoints is not None:
                        helpers.start_soon(self._checkpointer, self._checkpoints)
                    await self._mailbox_loop(task_status)
                    helpers.cancel_scope.cancel()
            finally:
                send.close()  # the writer drains what is queued, then ends
        await self._last_checkpoint()

    async def _last_checkpoint(self) -> None:
        """A clean stop has written everything: a checkpoint now is all the next start
        needs besides the 8 days before it (a restart under systemd reads no month)."""
        if self._checkpoints is None:
            return
        try:
            await self._checkpoints.save_checkpoint(
                self._high_water, self.ledger.checkpoint(self._now())
            )
        except Exception as exc:
            log.warning("budget checkpoint not stored at stop (the journal has it): %r", exc)

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
            for n, msg in enumerate(batch):
                try:
                    await self.handle(msg)
                except BaseException:  # the rest of the batch dies with this instance
                    for rest in batch[n:]:
                        reply = getattr(rest, "reply", None)
                        if isinstance(reply, ReplyTo):
                            reply.fail(ActorCrashed(self.actor_id))
                    raise
            now = self._now()
            self._prune(now)
            await self._checkpoint(now)
        await self.stopped()

    async def _checkpoint(self, now: float) -> None:
        """Hand the ledger's checkpoint to the saver, at most every
        :data:`CHECKPOINT_EVERY_S`, at a moment it stands for one journal position.

        Why the mailbox waits for the writer: the ledger runs ahead of the journal (an
        entry is applied, then committed), so under load there is never a batch end at
        which both agree. Once an hour the loop stops taking messages until the writer
        has committed what it was given (one commit, a few milliseconds; at most
        :data:`CHECKPOINT_WAIT_S`), and with shared caps holds the lock, so no other
        daemon's entries are half applied. Then the ledger is exactly the journal up to
        the last entry written."""
        if self._checkpoints is None or now < self._checkpoint_at:
            return
        self._checkpoint_at = now + CHECKPOINT_EVERY_S
        if not self._writer_parked():
            self._drained = trio.Event()
            with trio.move_on_after(CHECKPOINT_WAIT_S):
                await self._drained.wait()
            self._drained = None
        async with self._shared_lock:
            if not self._writer_parked():
                return  # busy for too long: the next hour
            position, data = self._high_water, self.ledger.checkpoint(now)
        with contextlib.suppress(trio.WouldBlock):  # the previous one still being saved
            self._saves_send.send_nowait((position, data))

    def _writer_parked(self) -> bool:
        """The journal writer waits for entries: it has written all it was given (an
        entry handed to it un-parks it at once, before it even runs)."""
        return self._journal_send.statistics().tasks_waiting_receive > 0

    async def _checkpointer(self, checkpoints: Checkpoints) -> None:
        """Store the checkpoints handed over; one that fails is logged, the next hour's
        replaces it (the journal alone still rebuilds everything)."""
        async for position, data in self._saves:
            try:
                await checkpoints.save_checkpoint(position, data)
            except Exception as exc:
                log.warning("budget checkpoint not stored (the journal still has it): %r", exc)

    def _prune(self, now: float) -> None:
        """Forget, at most every :data:`PRUNE_EVERY_S`, what the ledger no longer needs.
        Between batches (a pass costs what it drops): only when messages flow does the
        ledger grow."""
        if now < self._prune_at:
            return
        self._prune_at = now + PRUNE_EVERY_S
        dropped = self.ledger.prune(now)
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
                if self._drained is not None and not recv.statistics().current_buffer_used:
                    self._drained.set()

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
            self._apply_others(others)
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

        async with self._shared_lock:
            self._high_water = await self._shared.serialized(self._high_water, decide)
        for n in reused:
            refused[n] = None
        for alert in fresh:
            log.warning("budget alert: %s", alert.message)
            self._publish("budget", alert.to_json())
        return refused

    def _apply_others(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            entry = LedgerEntry.from_json(row)
            if entry.op == "reserve" and self.ledger.reserved(entry.id) is not None:
                continue  # held already (a resend of one in doubt on another daemon)
            for alert in self.ledger.apply(entry):
                del alert  # announced by the daemon that booked it

    async def _catch_up(self) -> None:
        """Learn other daemons' bookings while this one books nothing (status, caps)."""
        assert self._shared is not None
        shared = self._shared

        def learn(others: list[dict[str, Any]]) -> list[dict[str, Any]]:
            self._apply_others(others)
            return []

        while True:
            await trio.sleep(self._catch_up_s)
            async with self._shared_lock:
                self._high_water = await shared.serialized(self._high_water, learn)

    async def _reconciler(self) -> None:
        """Release the reservations of messages that can no longer be charged: a pass
        over every reservation older than the grace period once the ledger is loaded
        and every ``reconcile_every_s``, and one over the messages a :class:`Reconcile`
        names as soon as it comes (those without the grace period).

        A pass whose reading fails is logged and left to the next one, unless shared
        caps had already changed the ledger for it: then the ledger no longer matches
        the journal, and the actor crashes to rebuild it (as a failed booking does)."""
        await self._loaded.wait()
        asked: tuple[str, ...] | None = None
        while True:
            try:
                released = await self._reconcile(asked)
            except _Diverged:
                raise
            except Exception as exc:
                log.warning("budget reconciliation failed (retried later): %r", exc)
            else:
                if released:
                    log.info(
                        "budget: released %d reservation(s) of messages that will not be charged",
                        released,
                    )
            asked = None
            with trio.move_on_after(self._reconcile_every_s):
                asked = await self._asked.receive()
                more = [asked]
                while True:
                    try:
                        more.append(self._asked.receive_nowait())
                    except trio.WouldBlock:
                        break
                asked = tuple(ref for refs in more for ref in refs)

    async def _reconcile(self, asked: tuple[str, ...] | None) -> int:
        """One pass (see :meth:`_reconciler`): all reservations older than the grace
        period when ``asked`` is None, else those named. Returns how many were released."""
        assert self._outbox is not None
        grace = self._reconcile_grace_s if asked is None else 0.0
        read_at = self._now()
        if asked is None:
            held = self.ledger.stale_reservations(read_at - grace)
        else:
            held = [r for r in dict.fromkeys(asked) if self.ledger.reserved(r) is not None]
        ids = [oid for ref in held if (oid := outbox_ref(ref)) is not None]
        try:
            if not ids:
                return 0
            if self._shared is None:
                rows = await self._outbox.outbox_states(ids)
                return len(self._release_unchargeable(held, rows, grace, read_at))
            released = 0

            def decide(
                others: list[dict[str, Any]], rows: dict[int, RowState]
            ) -> list[dict[str, Any]]:
                nonlocal released
                decided.set()
                self._apply_others(others)  # a release by another daemon is seen here
                entries = [
                    r.entry.to_json()
                    for r in self._release_unchargeable(held, rows, grace, read_at, persist=False)
                ]
                released = len(entries)
                return entries

            decided = trio.Event()
            try:
                async with self._shared_lock:
                    self._high_water = await self._shared.reconciled(self._high_water, ids, decide)
            except Exception as exc:
                if decided.is_set():
                    raise _Diverged(str(exc)) from exc
                raise
            return released
        finally:
            # A reuse noted before this reading cannot matter to any later pass.
            self._reused = {r: t for r, t in self._reused.items() if t >= read_at}

    def _release_unchargeable(
        self,
        held: Sequence[str],
        rows: dict[int, RowState],
        grace: float,
        read_at: float,
        *,
        persist: bool = True,
    ) -> list[LedgerRelease]:
        """Release what :func:`~actors.budget.reconcile.to_release` names among ``held``
        and is still held, in one step (nothing can interleave): journalled through the
        writer, or (shared caps, ``persist=False``) by the caller."""
        now = self._now()
        out: list[LedgerRelease] = []
        for ref in to_release(held, rows, grace_s=grace, reused=self._reused, read_at=read_at):
            released = self.ledger.release(ref, now)
            if released is None:  # released or settled meanwhile: nothing to do
                continue
            if persist:
                self._persist(released.entry)
            out.append(released)
        return out

    def _persist(
        self,
        entry: LedgerEntry,
        alerts: Sequence[Any] = (),
        reply: _Part | None = None,
    ) -> None:
        self._journal_send.send_nowait(_Journalled(entry, tuple(alerts), reply))

    def _empty_ledger(self) -> Ledger:
        ledger = self._new_ledger()
        for campaign_id, caps in self._campaign_caps.items():
            ledger.set_caps(Scope.campaign(campaign_id), caps)
        return ledger

    async def load(self) -> None:
        self.ledger = self._empty_ledger()
        self._settled.clear()
        now = self._now()
        self._checkpoint_at = now + CHECKPOINT_EVERY_S
        if await self._restore(now):
            return
        since = self.ledger.replay_from(now)
        if self._shared is not None:
            rows, self._high_water = await self._shared.load_marked(since)
        elif self._checkpoints is not None:  # the position, for the first checkpoint
            rows, self._high_water = await self._checkpoints.load_marked(since)
        else:
            rows = await self._journal.load_entries(since)
        self.ledger.replay(LedgerEntry.from_json(r) for r in rows)

    async def _restore(self, now: float) -> bool:
        """Rebuild from the latest checkpoint and the journal around it; False when there
        is none worth it (none, another zone's, or older than the oldest current period:
        then replaying from that period reads less)."""
        if self._checkpoints is None:
            return False
        latest = await self._checkpoints.latest_checkpoint()
        if latest is None:
            return False
        position, data = latest
        taken_at = float(data.get("at", 0.0))
        if taken_at < self.ledger.replay_from(now):
            return False
        before, after, high = await self._checkpoints.entries_around(
            position, taken_at - RETAIN_SETTLED_S
        )
        try:
            self.ledger.restore(data, (LedgerEntry.from_json(r) for r in before))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("budget checkpoint %d not usable (%s): replaying", position, exc)
            self.ledger = self._empty_ledger()
            return False
        self.ledger.replay(LedgerEntry.from_json(r) for r in after)
        self._high_water = high
        log.info(
            "budget: restored from checkpoint %d and %d entries after it", position, len(after)
        )
        return True

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
                                _Journalled(entry, (), answers.part(n), reuse=True)
                            )
                            continue
                        if self._outbox is not None:
                            self._reused[b.ref] = now
                        answers.put(n, None)
                        continue
                    booked = self.ledger.reserve(
                        b.ref, b.amount, now, waba=b.waba, campaign=b.campaign
                    )
                    if isinstance(booked, Refusal):
                        answers.put(n, booked.reason)
                    else:  # answered once durable
                        self._persist(booked.entry, booked.alerts, answers.part(n))
            case Release(id=rid):
                released = self.ledger.release(rid, now)
                if released is not None:
                    self._persist(released.entry)
            case Reconcile(refs=refs):
                if self._outbox is not None and refs:
                    self._asked_send.send_nowait(refs)
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
                    self._persist(settled.entry, settled.alerts)
                self._remember(rid, seen)
            case GetBudget(reply=reply):
                reply.ok(self.status(now))
            case SetCampaignCap(campaign_id=campaign_id, caps=caps, reply=reply):
                # The first registration since the daemon started follows a restart
                # when the campaign has spent already: the thresholds it had crossed were
                # announced when crossed, so they are marked, not announced again.
                first = campaign_id not in self._campaign_caps
                self.ledger.set_caps(Scope.campaign(campaign_id), caps)
                if caps == Caps():
                    self._campaign_caps.pop(campaign_id, None)
                else:
                    self._campaign_caps[campaign_id] = caps
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
