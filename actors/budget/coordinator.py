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
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypeAlias, assert_never

import trio

from actors.base import Actor
from actors.budget.ledger import GLOBAL, Caps, Ledger, LedgerEntry, Refusal, Scope
from actors.budget.periods import PERIODS
from actors.core import ActorCrashed, ReplyTo
from actors.policy.pricing import PriceTable, PricingInfo, UnknownDestination
from actors.ports import Booking

__all__ = [
    "BudgetClient",
    "BudgetCoordinator",
    "BudgetJournal",
    "BudgetMsg",
    "GetBudget",
    "Release",
    "Reserve",
    "SetCampaignCap",
    "Settle",
]

log = logging.getLogger("metad.budget")

REPLAY_WINDOW_S = 40 * 86_400.0
"""Entries older than this cannot touch a current period (a month plus retries)."""
MAILBOX_BATCH = 256
"""Messages handled per scheduling step (see the module docstring)."""
SETTLED_MEMORY = 50_000
"""Settlements remembered to skip a repeat (Meta prices both ``sent`` and ``delivered``)."""


class BudgetJournal(Protocol):
    async def load_entries(self, since: float) -> list[dict[str, Any]]: ...

    async def save_entries(self, entries: Sequence[dict[str, Any]]) -> None:
        """Append ``entries`` in order, in one transaction (all or none)."""
        ...


class SharedJournal(Protocol):
    """The journal when several daemons book against the same caps (daemon.cluster)."""

    async def load_marked(self, since: float) -> tuple[list[dict[str, Any]], int]: ...

    async def serialized(
        self, after_id: int, decide: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
    ) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Reserve:
    """Reservations of several messages, booked in order, answered together: a chip
    journals its sends in batches, and one message per batch is one mailbox hop."""

    bookings: tuple[Booking, ...]
    reply: ReplyTo[list[str | None]]
    """Per booking: None when booked; else the refusal's reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Settle:
    """A status webhook's ``pricing``: what Meta really charged for message ``id``."""

    id: str
    pricing: PricingInfo
    wa_id: str
    waba: str | None = None
    campaign: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetBudget:
    reply: ReplyTo[dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class SetCampaignCap:
    """Caps of one campaign, registered when it starts (``Caps()`` clears them).

    Per period like every cap (local day, ISO week, month): a campaign that must not
    spend more than X in all sets ``monthly`` (and runs within one month)."""

    campaign_id: str
    caps: Caps
    reply: ReplyTo[None]


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


BudgetMsg: TypeAlias = Reserve | Release | Settle | GetBudget | SetCampaignCap


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
    ) -> None:
        super().__init__("budget", inbox)
        self._shared = shared
        """Set when several daemons share the caps: each batch is booked under one
        advisory lock after the other daemons' entries (a reservation that no longer
        fits is refused), and the ledger catches up every ``catch_up_s``."""
        self._high_water = 0
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
            if self._shared is not None:
                nursery.start_soon(self._catch_up)
            try:
                await self._mailbox_loop(task_status)
            finally:
                send.close()  # the writer drains what is queued, then ends

    async def _mailbox_loop(self, task_status: trio.TaskStatus[Any]) -> None:
        """:class:`~actors.base.Actor`'s loop (same crash contract), in batches."""
        await self.load()
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
        await self.stopped()

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
                refused: dict[int, str] = {}
                try:
                    if self._shared is None:
                        await self._journal.save_entries([j.entry.to_json() for j in batch])
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

    async def _book_shared(self, batch: Sequence[_Journalled]) -> dict[int, str]:
        """Book ``batch`` after what other daemons booked (under the shared lock); the
        reservations that no longer fit are taken back and their refusals returned."""
        assert self._shared is not None
        refused: dict[int, str] = {}

        def decide(others: list[dict[str, Any]]) -> list[dict[str, Any]]:
            refused.clear()
            self._apply_others(others)
            keep: list[dict[str, Any]] = []
            for n, j in enumerate(batch):
                e = j.entry
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
        while True:
            await trio.sleep(self._catch_up_s)

            def learn(others: list[dict[str, Any]]) -> list[dict[str, Any]]:
                self._apply_others(others)
                return []

            async with self._shared_lock:
                self._high_water = await self._shared.serialized(self._high_water, learn)

    def _persist(
        self,
        entry: LedgerEntry,
        alerts: Sequence[Any] = (),
        reply: _Part | None = None,
    ) -> None:
        self._journal_send.send_nowait(_Journalled(entry, tuple(alerts), reply))

    async def load(self) -> None:
        self.ledger = self._new_ledger()
        self._settled.clear()
        for campaign_id, caps in self._campaign_caps.items():
            self.ledger.set_caps(Scope.campaign(campaign_id), caps)
        if self._shared is not None:
            rows, self._high_water = await self._shared.load_marked(self._now() - REPLAY_WINDOW_S)
        else:
            rows = await self._journal.load_entries(self._now() - REPLAY_WINDOW_S)
        self.ledger.replay(LedgerEntry.from_json(r) for r in rows)

    async def handle(self, msg: BudgetMsg) -> None:
        now = self._now()
        match msg:
            case Reserve(bookings=bookings, reply=reply):
                answers = _Answers(reply, len(bookings))
                for n, b in enumerate(bookings):
                    if self.ledger.reserved(b.ref) is not None:
                        # The same message again (an operator's resend of one in doubt):
                        # its cost is booked already, once is enough.
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


class BudgetClient:
    """What a chip holds: reserve and release through the coordinator's address."""

    def __init__(self, address: Any) -> None:
        self._address = address

    async def reserve(self, bookings: Sequence[Booking]) -> list[str | None]:
        reasons: list[str | None] = await self._address.call(
            lambda r: Reserve(bookings=tuple(bookings), reply=r)
        )
        return reasons

    async def release(self, ref: str) -> None:
        await self._address.cast(Release(id=ref))

    async def set_campaign_cap(
        self,
        campaign_id: str,
        *,
        daily_usd: Decimal | None = None,
        weekly_usd: Decimal | None = None,
        monthly_usd: Decimal | None = None,
    ) -> None:
        """Cap what ``campaign_id``'s sends (``campaign=`` on reserve) may spend per
        period; all None clears its caps. Raises ValueError for a negative amount."""
        caps = Caps(daily=daily_usd, weekly=weekly_usd, monthly=monthly_usd)
        await self._address.call(
            lambda r: SetCampaignCap(campaign_id=campaign_id, caps=caps, reply=r)
        )
