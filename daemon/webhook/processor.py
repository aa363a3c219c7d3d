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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import trio

from daemon.store import InboxRow, Outcome, Store
from daemon.store.outbox import OutboxRepository, StatusChange, outbox_id_from
from daemon.webhook import events as e
from daemon.webhook.payloads import MalformedBody, body_dedupe_key, parse, status_rank

__all__ = ["EventSink", "InboxProcessor", "ProcessorStats", "event_key"]

log = logging.getLogger("metad.webhook")


class EventSink(Protocol):
    async def deliver(self, event: e.Event) -> bool:
        """Hand ``event`` to its actor; False when no actor owns its number or account."""


@dataclass(slots=True)
class ProcessorStats:
    rows: int = 0
    events: int = 0
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
        self.accept: Callable[[InboxRow], bool] | None = None
        """Which pending rows are this daemon's to process (None: all); see daemon.cluster."""

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
        """Process every pending row; returns how many."""
        done = 0
        after = 0
        while True:
            rows = await self._store.inbox.pending(self._batch_rows, after)
            if not rows:
                return done
            after = rows[-1].id
            if self.accept is not None:  # several daemons: rows of other nodes' chips wait
                rows = [row for row in rows if self.accept(row)]
                if not rows:
                    continue
            await self.process(rows)
            done += len(rows)

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

        event_keys = [k for _, events, _ in parsed for ev in events if (k := event_key(ev))]
        seen = await inbox.seen(event_keys)
        statuses: list[StatusChange] = []
        orphans: list[tuple[int, str | None, str | None, str]] = []
        fresh_of: list[list[e.Event]] = []
        for _, events, _ in parsed:
            fresh = [ev for ev in events if (k := event_key(ev)) is None or k not in seen]
            seen.update(k for ev in fresh if (k := event_key(ev)))
            fresh_of.append(fresh)
        routed = iter(await self._deliver_all([ev for fresh in fresh_of for ev in fresh]))
        for (row, events, unknown_count), fresh in zip(parsed, fresh_of, strict=True):
            unknown_number = 0
            for ev in fresh:
                if isinstance(ev, e.StatusUpdate):
                    statuses.append(_status_change(ev))
                if not next(routed):
                    unknown_number += 1
                    orphans.append(
                        (
                            row.id,
                            getattr(ev, "phone_number_id", None),
                            getattr(ev, "waba_id", None),
                            ev.kind,
                        )
                    )
            self.stats.events += len(fresh)
            self.stats.unknown_number += unknown_number
            state = "parsed" if events or not unknown_count else "unparsed"
            outcomes.append(Outcome(row.id, state, len(events), unknown_count, unknown_number))

        async with self._store.transaction() as tx:
            in_tx = inbox.on(tx)
            await in_tx.first_sightings(event_keys)
            await OutboxRepository(tx).apply_statuses(highest_per_message(statuses))
            await in_tx.record_orphans(orphans)
            await in_tx.mark(outcomes, keys)
        self.stats.rows += len(rows)

    async def _deliver_all(self, events: Sequence[e.Event]) -> list[bool]:
        """Deliver ``events``; whether each reached an actor, in order.

        Why in lanes: each delivery waits for a place in an actor's mailbox, and trio
        runs a task one step per scheduling round, so one task delivering thousands of
        statuses one by one is as slow as the busiest round. Events of one number (or
        one account) stay in order in their own lane; the lanes run side by side.
        """
        routed = [False] * len(events)
        lanes: dict[str | None, list[int]] = {}
        for n, ev in enumerate(events):
            lane = getattr(ev, "phone_number_id", None) or getattr(ev, "waba_id", None)
            lanes.setdefault(lane, []).append(n)

        async def run(indexes: list[int]) -> None:
            for n in indexes:
                routed[n] = await self._sink.deliver(events[n])

        if len(lanes) <= 1:
            for indexes in lanes.values():
                await run(indexes)
            return routed
        async with trio.open_nursery() as nursery:
            for indexes in lanes.values():
                nursery.start_soon(run, indexes)
        return routed
