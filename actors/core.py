"""The actor primitives: an address to send to, a one-shot reply slot, and the loop.

Why: every piece of live state in metad (a chip's windows, a WABA's templates, a
campaign's progress) is owned by exactly one trio task, and everything else talks to it
by message. A bounded mailbox gives backpressure instead of unbounded queues; a ``call``
has a timeout so a stuck actor cannot hang its callers; a handler that crashes while a
caller waits fails that caller at once with :class:`ActorCrashed`.

The mailbox channel belongs to the supervisor, not to the actor task, so an
:class:`Address` stays valid across restarts and messages already queued survive them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import outcome
import trio

__all__ = [
    "ActorCrashed",
    "ActorStopped",
    "Address",
    "CallTimeout",
    "Mailbox",
    "ReplyTo",
    "open_mailbox",
]

M = TypeVar("M")
T = TypeVar("T")


class ActorCrashed(Exception):
    """The actor died while handling the message a caller was waiting on."""

    def __init__(self, actor_id: str) -> None:
        super().__init__(f"actor {actor_id} crashed while handling the call")
        self.actor_id = actor_id


class ActorStopped(Exception):
    """The actor's mailbox is closed: the daemon is shutting down."""

    def __init__(self, actor_id: str) -> None:
        super().__init__(f"actor {actor_id} is stopped")
        self.actor_id = actor_id


class CallTimeout(Exception):
    """No answer within the call's timeout; the actor may still act on the message."""

    def __init__(self, actor_id: str, timeout: float) -> None:
        super().__init__(f"actor {actor_id} did not answer within {timeout:g}s")
        self.actor_id = actor_id
        self.timeout = timeout


class ReplyTo(Generic[T]):
    """One-shot reply slot carried inside a message.

    Buffer of one, and every put is non-blocking, so an actor never waits on a caller
    that has already given up.
    """

    __slots__ = ("_recv", "_send", "answered")

    def __init__(self) -> None:
        self._send, self._recv = trio.open_memory_channel[outcome.Outcome[T]](1)
        self.answered = False

    def ok(self, value: T) -> None:
        self._put(outcome.Value(value))

    def fail(self, exc: BaseException) -> None:
        self._put(outcome.Error(exc))

    def _put(self, result: outcome.Outcome[T]) -> None:
        if self.answered:
            return
        self.answered = True
        with contextlib.suppress(
            trio.BrokenResourceError, trio.ClosedResourceError, trio.WouldBlock
        ):
            self._send.send_nowait(result)

    async def wait(self, actor_id: str, timeout: float) -> T:
        with trio.move_on_after(timeout):
            result = await self._recv.receive()
            return result.unwrap()
        raise CallTimeout(actor_id, timeout)


@dataclass(frozen=True, slots=True)
class Address(Generic[M]):
    """Where to send messages for one actor; valid for the daemon's lifetime."""

    actor_id: str
    _send: trio.MemorySendChannel[M]

    async def cast(self, msg: M) -> None:
        """Enqueue ``msg``; waits while the mailbox is full (backpressure, never a drop)."""
        try:
            await self._send.send(msg)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise ActorStopped(self.actor_id) from None

    def try_cast(self, msg: M) -> bool:
        """Enqueue without waiting; False when the mailbox is full."""
        try:
            self._send.send_nowait(msg)
        except trio.WouldBlock:
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise ActorStopped(self.actor_id) from None
        return True

    async def call(self, build: Callable[[ReplyTo[T]], M], *, timeout: float = 5.0) -> T:
        """Send the message ``build(reply)`` and wait for the actor's answer."""
        reply: ReplyTo[T] = ReplyTo()
        with trio.move_on_after(timeout) as scope:
            await self.cast(build(reply))
        if scope.cancelled_caught:
            raise CallTimeout(self.actor_id, timeout)
        return await reply.wait(self.actor_id, timeout)

    def statistics(self) -> trio.MemoryChannelStatistics:
        return self._send.statistics()


@dataclass(frozen=True, slots=True)
class Mailbox(Generic[M]):
    """Both ends of an actor's mailbox; the supervisor keeps it across restarts."""

    address: Address[M]
    inbox: trio.MemoryReceiveChannel[M]

    def close(self) -> None:
        """Stop accepting messages; the actor drains what is queued, then its loop ends."""
        self.address._send.close()


def open_mailbox(actor_id: str, capacity: int = 1024) -> Mailbox[M]:
    send, recv = trio.open_memory_channel[M](capacity)
    return Mailbox(Address(actor_id, send), recv)
