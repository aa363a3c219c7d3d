"""Work hand-off between nodes: inbox rows by chip owner, single-node tasks by leader.

Why the inbox stays the truth: a webhook may reach any node (behind a load balancer);
the node stores it before answering 200 (as with one node), the insert notifies every
node (``metad_inbox``), and each node's processor takes only the pending rows of the
chips whose actors it runs; rows naming no configured chip (account events, unknown
numbers) go to the leader. A row whose chip is between owners stays pending until the
next owner's actor runs, then is processed by it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

import trio

from daemon.cluster.leases import Leases
from daemon.cluster.rules import inbox_chips, row_owner_chip
from daemon.store import InboxRow

__all__ = ["inbox_filter", "while_leader"]

log = logging.getLogger("metad.cluster")


def inbox_filter(
    leases: Leases, configured: Callable[[], Collection[str]]
) -> Callable[[InboxRow], bool]:
    """The processor's row filter for this node."""

    def accept(row: InboxRow) -> bool:
        chips = configured()
        if leases.leader and leases.running.issuperset(chips):
            return True  # the whole fleet is here (one daemon): no need to look
        chip = row_owner_chip(inbox_chips(row.body), chips)
        return leases.leader if chip is None else chip in leases.running

    return accept


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
