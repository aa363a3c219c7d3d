"""The loop every actor runs: rebuild, report started, handle messages until closed.

Why one loop for all: the crash contract must be the same everywhere. A handler that
raises while a caller waits on a :class:`~actors.core.ReplyTo` fails that caller with
:class:`~actors.core.ActorCrashed` first, then the exception propagates to the
supervisor, which restarts the actor from storage. When the daemon closes the mailbox
the loop drains what is already queued and returns — the graceful part of shutdown.
"""

from __future__ import annotations

import abc
from typing import Any, Generic, TypeVar

import trio

from actors.core import ActorCrashed, ReplyTo

__all__ = ["Actor"]

M = TypeVar("M")


class Actor(abc.ABC, Generic[M]):
    """Subclasses implement :meth:`load` (rebuild state) and :meth:`handle` (one message)."""

    def __init__(self, actor_id: str, inbox: trio.MemoryReceiveChannel[M]) -> None:
        self.actor_id = actor_id
        self._inbox = inbox

    @abc.abstractmethod
    async def load(self) -> None:
        """Rebuild in-memory state from storage; runs before every (re)start."""

    @abc.abstractmethod
    async def handle(self, msg: M) -> None:
        """Handle one message; domain refusals go back through the message's ReplyTo."""

    async def stopped(self) -> None:
        """Runs once after the mailbox is closed and drained; persist what is pending."""

    async def run(self, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        await self.load()
        task_status.started()
        async for msg in self._inbox:
            try:
                await self.handle(msg)
            except BaseException:  # a kill (Cancelled) must not leave the caller hanging
                reply = getattr(msg, "reply", None)
                if isinstance(reply, ReplyTo):
                    reply.fail(ActorCrashed(self.actor_id))
                raise
        await self.stopped()
