"""From the inbox to the actors: parse, deduplicate, apply statuses, route.

Why after the 200 and from the inbox: acknowledging Meta only needs the body to be
durable; everything here may crash and simply runs again on restart, because every
effect is idempotent or guarded:

1. a body identical to one already processed is a duplicate delivery and is skipped;
2. events already seen (a message's wamid, a status's (wamid, status)) are skipped;
3. the new events are routed to their actors (window opens at a given time and quality
   observations are idempotent, so a replay after a crash changes nothing);
4. one transaction records the seen keys, moves outbox rows forward (never backward) and
   marks the inbox rows processed.

Several daemons (:mod:`daemon.cluster`, through :class:`Placement`): one node processes
each inbox row. It applies the events of the chips it runs (and those of no configured
chip: account events, unknown numbers); for every other configured chip the body names
it leaves a hand-off (inbox row, chip) in the same transaction, without recording those
events as seen. Whoever runs that chip, now or after a takeover, applies that chip's
events from the stored body (:meth:`InboxProcessor.process_handoffs`), deduplicated
against ``webhook_seen`` like any event, and closes the hand-off in the transaction that
records their keys. A hand-off whose chip left this node meanwhile stays open for the
next owner.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

import trio

from daemon.store import InboxRow, Outcome, Store
from daemon.store.inbox import Handoff, InboxRepository
from daemon.store.outbox import OutboxRepository, StatusChange, outbox_id_from
from daemon.webhook import events as e
from daemon.webhook.payloads import MalformedBody, body_dedupe_key, parse, status_rank

__all__ = ["EventSink", "InboxProcessor", "Placement", "ProcessorStats", "event_key"]

log = logging.getLogger("metad.webhook")

YIELD_EVERY = 256
"""Events delivered between two scheduling points of the processor (see _deliver_all)."""


class EventSink(Protocol):
    async def deliver(self, event: e.Event) -> bool:
        """Hand ``event`` to its actor; False when no actor owns its number or account."""


class Placement(Protocol):
    """Which work is this node's when several daemons share the inbox (daemon.cluster)."""

    def accept(self, row: InboxRow) -> bool:
        """Whether this node processes ``row`` (exactly one live node does)."""

    def chip_of(self, event: e.Event) -> str | None:
        """The configured chip whose actor takes ``event``; None for events of no
        configured chip (account events, unknown numbers: applied where processed)."""

    def running(self) -> Collection[str]:
        """The chips whose actors run on this node."""


@dataclass(slots=True)
class ProcessorStats:
    rows: int = 0
    events: int = 0
    handed_off: int = 0
    """(inbox row, chip) pairs left to another node."""
    handoffs: int = 0
    """Hand-offs of other nodes applied here."""
    duplicates: int = 0
    unknown_number: int = 0
    unknown_fields_logged: set[str] = field(default_factory=set)


def event_key(event: e.Event) -> str | None:
    """The identity that makes an event apply once, or None for idempotent state events."""
    if isinstance(event, e.InboundMessage):
        return f"m:{event.wamid}"
    if isinstance(event, e.StatusUpdate):
        return f"s:{event.wamid}:{event.status}"
    if isinstance(event, e.MessageEcho):
        return f"echo:{event.wamid}"
    return None


def _fresh(events: Sequence[e.Event], seen: set[str]) -> list[e.Event]:
    """The events not seen before (stored, or earlier in this batch), in order; ``seen``
    learns their keys. One key per event: it is built for every status webhook."""
    fresh: list[e.Event] = []
    for ev in events:
        key = event_key(ev)
        if key is None:
            fresh.append(ev)
        elif key not in seen:
            seen.add(key)
            fresh.append(ev)
    return fresh


def _status_change(event: e.StatusUpdate) -> StatusChange:
    error = None
    if event.errors:
        first = event.errors[0]
        error = {"code": first.code, "title": first.title, "message": first.message}
    return StatusChange(
        wamid=event.wamid,
        status=event.status,
        outbox_id=outbox_id_from(event.biz_opaque_callback_data),
        error=error,
    )


def _orphan(inbox_id: int, event: e.Event) -> tuple[int, str | None, str | None, str]:
    return (
        inbox_id,
        getattr(event, "phone_number_id", None),
        getattr(event, "waba_id", None),
        event.kind,
    )


def highest_per_message(changes: Sequence[StatusChange]) -> list[StatusChange]:
    """One change per message (a batch may hold sent, delivered and read of one wamid)."""
    best: dict[str, StatusChange] = {}
    for change in changes:
        key = f"id:{change.outbox_id}" if change.outbox_id is not None else change.wamid
        held = best.get(key)
        if held is None or status_rank(change.status) > status_rank(held.status):
            best[key] = change
    return list(best.values())


class InboxProcessor:
    def __init__(self, store: Store, sink: EventSink, *, batch_rows: int = 500) -> None:
        self._store = store
        self._sink = sink
        self._batch_rows = batch_rows
        self._wakeup = trio.Event()
        self.stats = ProcessorStats()
        self.placement: Placement | None = None
        """Which rows and events are this daemon's (None: all); see daemon.cluster."""

    def wake(self) -> None:
        """Called by the ingest path after a body is stored."""
        self._wakeup.set()

    async def run(
        self,
        *,
        idle_poll_s: float = 1.0,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        # Rows left pending by a crash or restart are drained before anything new.
        await self.drain()
        task_status.started()
        while True:
            with trio.move_on_after(idle_poll_s):
                await self._wakeup.wait()
            self._wakeup = trio.Event()
            try:
                await self.drain()
            except Exception as exc:
                # Storage gone for a while: the rows stay pending and the next wake-up
                # or poll retries them (the endpoint answers 503 meanwhile). Raising
                # here would take the whole daemon down with the store.
                log.warning("inbox processing failed, will retry: %s", exc)

    async def drain(self) -> int:
        """Process every pending row (and hand-off of a chip run here); returns how many."""
        done = await self._drain_handoffs()
        after = 0
        while True:
            rows = await self._store.inbox.pending(self._batch_rows, after)
            if not rows:
                return done
            after = rows[-1].id
            if self.placement is not None:  # several daemons: one node processes a row
                rows = [row for row in rows if self.placement.accept(row)]
                if not rows:
                    continue
            await self.process(rows)
            done += len(rows)

    async def _drain_handoffs(self) -> int:
        if self.placement is None:
            return 0
        done = 0
        after = (0, "")
        while True:
            chips = sorted(self.placement.running())
            items = await self._store.inbox.handoffs(chips, self._batch_rows, after)
            if not items:
                return done
            after = (items[-1].inbox_id, items[-1].chip)
            done += await self.process_handoffs(items)

    def _elsewhere(self, event: e.Event) -> str | None:
        """The chip to hand ``event`` to: a configured chip whose actor is not here."""
        if self.placement is None:
            return None
        chip = self.placement.chip_of(event)
        return chip if chip is not None and chip not in self.placement.running() else None

    async def process(self, rows: Sequence[InboxRow]) -> None:
        inbox = self._store.inbox
        keys = {row.id: body_dedupe_key(row.body) for row in rows}
        known = await inbox.known_bodies(set(keys.values()))
        outcomes: list[Outcome] = []
        parsed: list[tuple[InboxRow, list[e.Event], int]] = []
        for row in rows:
            key = keys[row.id]
            if key in known:
                outcomes.append(Outcome(row.id, "duplicate"))
                self.stats.duplicates += 1
                continue
            known.add(key)
            try:
                result = parse(row.body)
            except MalformedBody:
                outcomes.append(Outcome(row.id, "unparsed"))
                continue
            for unknown in result.unknown:
                name = unknown.field or "(no field)"
                if name not in self.stats.unknown_fields_logged:
                    self.stats.unknown_fields_logged.add(name)
                    log.warning("webhook change %r not understood; kept in the inbox", name)
            parsed.append((row, list(result.events), len(result.unknown)))

        seen = await inbox.seen([k for _, evs, _ in parsed for ev in evs if (k := event_key(ev))])
        statuses: list[StatusChange] = []
        orphans: list[tuple[int, str | None, str | None, str]] = []
        handoffs: list[tuple[int, str]] = []
        here_of: list[list[e.Event]] = []
        for row, events, _ in parsed:
            here: list[e.Event] = []
            for ev in _fresh(events, seen):
                chip = self._elsewhere(ev)
                if chip is None:
                    here.append(ev)
                elif (row.id, chip) not in handoffs:
                    handoffs.append((row.id, chip))
            here_of.append(here)
        applied = [ev for here in here_of for ev in here]
        routed = iter(await self._deliver_all(applied))
        for (row, events, unknown_count), here in zip(parsed, here_of, strict=True):
            unknown_number = 0
            for ev in here:
                if isinstance(ev, e.StatusUpdate):
                    statuses.append(_status_change(ev))
                if not next(routed):
                    unknown_number += 1
                    orphans.append(_orphan(row.id, ev))
            self.stats.events += len(here)
            self.stats.unknown_number += unknown_number
            state = "parsed" if events or not unknown_count else "unparsed"
            outcomes.append(Outcome(row.id, state, len(events), unknown_count, unknown_number))

        async with self._applying(applied, statuses, orphans) as in_tx:
            await in_tx.hand_off(handoffs)
            await in_tx.mark(outcomes, keys)
        self.stats.rows += len(rows)
        self.stats.handed_off += len(handoffs)

    async def process_handoffs(self, items: Sequence[Handoff]) -> int:
        """Apply the events other nodes left for chips run here; returns how many
        hand-offs were closed (one whose chip left this node meanwhile stays open)."""
        assert self.placement is not None
        placement = self.placement
        inbox = self._store.inbox
        events_of: list[list[e.Event]] = []
        for item in items:
            try:
                events = parse(item.body).events
            except MalformedBody:  # cannot happen: its row was parsed to hand it off
                events = ()
            events_of.append([ev for ev in events if placement.chip_of(ev) == item.chip])
        seen = await inbox.seen([k for evs in events_of for ev in evs if (k := event_key(ev))])
        fresh_of: list[list[e.Event]] = []
        for mine in events_of:
            fresh_of.append(_fresh(mine, seen))
        routed = iter(await self._deliver_all([ev for fresh in fresh_of for ev in fresh]))
        running = placement.running()
        closed: list[tuple[int, str]] = []
        applied: list[e.Event] = []
        statuses: list[StatusChange] = []
        orphans: list[tuple[int, str | None, str | None, str]] = []
        for item, fresh in zip(items, fresh_of, strict=True):
            reached = [next(routed) for _ in fresh]
            if not all(reached) and item.chip not in running:
                continue  # the chip left this node while delivering: its next owner
            closed.append((item.inbox_id, item.chip))
            applied += fresh
            statuses += [_status_change(ev) for ev in fresh if isinstance(ev, e.StatusUpdate)]
            orphans += [
                _orphan(item.inbox_id, ev) for ev, ok in zip(fresh, reached, strict=True) if not ok
            ]
            self.stats.events += len(fresh)
            self.stats.unknown_number += reached.count(False)
        async with self._applying(applied, statuses, orphans) as in_tx:
            await in_tx.handoffs_done(closed)
        self.stats.handoffs += len(closed)
        return len(closed)

    @asynccontextmanager
    async def _applying(
        self,
        applied: Sequence[e.Event],
        statuses: Sequence[StatusChange],
        orphans: Sequence[tuple[int, str | None, str | None, str]],
    ) -> AsyncIterator[InboxRepository]:
        """One transaction recording what was applied (seen keys, outbox moves, orphans);
        the caller adds its own bookkeeping (rows marked, hand-offs left or closed) to it."""
        async with self._store.transaction() as tx:
            in_tx = self._store.inbox.on(tx)
            await in_tx.first_sightings([k for ev in applied if (k := event_key(ev))])
            await OutboxRepository(tx).apply_statuses(highest_per_message(statuses))
            await in_tx.record_orphans(orphans)
            yield in_tx

    async def _deliver_all(self, events: Sequence[e.Event]) -> list[bool]:
        """Deliver ``events`` in order; whether each reached an actor.

        Why one task, in order: telling an actor is not a scheduling point while its
        mailbox (1,024 deep) has room (:meth:`actors.core.Address.cast`), so a batch goes
        out in one step and each actor wakes once for what it got. It used to take a
        task per number, each yielding after every status: at campaign rate that was
        four task steps per message. A full mailbox holds the rest of the batch until
        its actor takes a message (backpressure); every :data:`YIELD_EVERY` events the
        task lets the others run, so a long replay after an outage does not stall them.
        """
        routed: list[bool] = []
        deliver = self._sink.deliver
        for n, event in enumerate(events, 1):
            routed.append(await deliver(event))
            if n % YIELD_EVERY == 0:
                await trio.lowlevel.checkpoint()
        return routed
