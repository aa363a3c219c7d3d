"""Work hand-off between nodes: inbox rows and events by chip owner, single-node tasks
by leader.

Why the inbox stays the truth: a webhook may reach any node (behind a load balancer);
the node stores it before answering 200 (as with one node), the insert notifies every
node (``metad_inbox``), and one node processes each pending row: the owner of the
smallest configured chip the body names, or the leader when it names none (account
events, unknown numbers). A row whose chip is between owners stays pending until the
next owner's actor runs, then is processed by it.

A body may name chips of several nodes (Meta batches changes of one app). The node
processing the row applies the events of the chips it runs and, for every other
configured chip, leaves a hand-off row (inbox row, chip) in the transaction that marks
the row processed; the insert notifies ``metad_inbox`` and whoever runs that chip (now,
or after taking it over from a node that died) applies its events from the stored body
(:class:`~daemon.webhook.processor.InboxProcessor`). Only numbers in no node's config
are "unknown number".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

import trio

from daemon.cluster.leases import Leases
from daemon.cluster.rules import inbox_chips, row_owner_chip
from daemon.store import InboxRow
from daemon.webhook import events as e

__all__ = ["InboxPlacement", "inbox_filter", "while_leader"]

log = logging.getLogger("metad.cluster")


def inbox_filter(
    leases: Leases, configured: Callable[[], Collection[str]]
) -> Callable[[InboxRow], bool]:
    """Whether this node processes an inbox row (one live node does)."""

    def accept(row: InboxRow) -> bool:
        chips = configured()
        if leases.leader and leases.running.issuperset(chips):
            return True  # the whole fleet is here (one daemon): no need to look
        chip = row_owner_chip(inbox_chips(row.body), chips)
        return leases.leader if chip is None else chip in leases.running

    return accept


class InboxPlacement:
    """The processor's view of the cluster (:class:`daemon.webhook.processor.Placement`):
    which rows this node processes, and which chip each event belongs to."""

    def __init__(self, leases: Leases, chip_by_display: Callable[[str], str | None]) -> None:
        self._leases = leases
        self._by_display = chip_by_display
        self.accept = inbox_filter(leases, lambda: leases.chips)

    def chip_of(self, event: e.Event) -> str | None:
        """The configured chip whose actor takes ``event`` (as daemon.webhook.route
        routes it); None for account-level events and numbers of no configured chip."""
        if isinstance(event, e.InboundMessage | e.StatusUpdate):
            chip: str | None = event.phone_number_id
        elif isinstance(event, e.PhoneQualityUpdate):
            chip = self._by_display(event.display_phone_number or "")
        else:
            return None
        return chip if chip in self._leases.chip_set else None

    def running(self) -> Collection[str]:
        return self._leases.running


async def while_leader(
    leases: Leases, task: Callable[[], Awaitable[object]], *, check_s: float = 1.0
) -> None:
    """Run ``task`` while this node holds the leader lock; cancel it when it is lost
    (the periodic jobs record their runs in the store, so a new leader neither repeats
    nor skips one)."""
    while True:
        while not leases.leader:  # noqa: ASYNC110 (a flag set by the renewal loop)
            await trio.sleep(check_s)
        log.info("leader: running the periodic jobs")
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                while leases.leader:  # noqa: ASYNC110
                    await trio.sleep(check_s)
                log.info("no longer the leader: periodic jobs stop here")
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            await task()
            nursery.cancel_scope.cancel()
