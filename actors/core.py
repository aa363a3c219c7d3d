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

import math
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
    "put",
    "take_token",
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

    Every put is non-blocking, so an actor never waits on a caller that has already
    given up. A slot and an event rather than a channel of one: a reply is made for
    every call (several per campaign message), and an event is the cheapest thing a
    caller can park on.
    """

    __slots__ = ("_done", "_result", "answered")

    def __init__(self) -> None:
        self._done = trio.Event()
        self._result: outcome.Outcome[T] | None = None
        self.answered = False

    def ok(self, value: T) -> None:
        self._put(outcome.Value(value))

    def fail(self, exc: BaseException) -> None:
        self._put(outcome.Error(exc))

    def _put(self, result: outcome.Outcome[T]) -> None:
        if self.answered:
            return
        self.answered = True
        self._result = result
        self._done.set()

    async def wait(self, actor_id: str, timeout: float, told: float | None = None) -> T:
        """The answer within ``timeout`` s; a :class:`CallTimeout` says ``told`` (the
        caller's whole bound, when part of it went on waiting for room)."""
        if self._result is None:
            with trio.move_on_after(timeout):
                await self._done.wait()
        if self._result is None:
            raise CallTimeout(actor_id, timeout if told is None else told)
        return self._result.unwrap()


async def take_token(limiter: trio.CapacityLimiter, timeout: float = math.inf) -> bool:
    """Take a token of ``limiter`` for the current task; False if none came in ``timeout``.

    Why not ``async with limiter``: that parks and reschedules the task even when a
    token is free (a trio checkpoint), and a timeout arms a cancel scope; on a path taken
    several times per message both cost more than what they guard. A free token is taken
    at once (no checkpoint: callers do I/O next); only a wait pays for the scheduler and
    the timer. Release with ``limiter.release()`` from the same task.
    """
    try:
        limiter.acquire_nowait()
        return True
    except trio.WouldBlock:
        pass
    with trio.move_on_after(timeout):
        await limiter.acquire()
        return True
    return False


async def put(channel: trio.MemorySendChannel[M], msg: M) -> None:
    """``channel.send(msg)`` without its scheduler round trip when there is room.

    For a task's last word (a worker reporting back, then ending): the task's exit is
    the scheduling point, so the checkpoint ``send`` always makes buys nothing. A full
    channel still waits (backpressure, never a drop)."""
    try:
        channel.send_nowait(msg)
    except trio.WouldBlock:
        await channel.send(msg)


@dataclass(frozen=True, slots=True)
class Address(Generic[M]):
    """Where to send messages for one actor; valid for the daemon's lifetime."""

    actor_id: str
    _send: trio.MemorySendChannel[M]

    async def cast(self, msg: M) -> None:
        """Enqueue ``msg``; waits while the mailbox is full (backpressure, never a drop).

        Not a scheduling point while there is room (see :func:`put`): the inbox
        processor tells actors thousands of statuses a second, and a round trip through
        the scheduler for each cost a task step per status here and one more in the
        receiving actor, which then woke once per message instead of once per batch.
        """
        try:
            await put(self._send, msg)
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
        msg = build(reply)
        left = timeout
        if not self.try_cast(msg):  # a full mailbox: wait for room, not forever
            # One deadline for room and answer: a caller's bound (a scrape's 2 s) held
            # twice over when the mailbox was full and the answer slow.
            started = trio.current_time()
            with trio.move_on_after(timeout) as scope:
                await self.cast(msg)
            if scope.cancelled_caught:
                raise CallTimeout(self.actor_id, timeout)
            left = max(0.0, timeout - (trio.current_time() - started))
        return await reply.wait(self.actor_id, left, timeout)

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
