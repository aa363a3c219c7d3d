from __future__ import annotations

from dataclasses import dataclass

import pytest
import trio
import trio.testing

from actors.base import Actor
from actors.core import (
    ActorCrashed,
    ActorStopped,
    CallTimeout,
    Mailbox,
    ReplyTo,
    open_mailbox,
    put,
    take_token,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Add:
    n: int
    reply: ReplyTo[int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Boom:
    reply: ReplyTo[int]


Msg = Add | Boom


class Counter(Actor[Msg]):
    def __init__(self, inbox: trio.MemoryReceiveChannel[Msg]) -> None:
        super().__init__("counter", inbox)
        self.total = 0
        self.stopped_with: int | None = None

    async def load(self) -> None:
        self.total = 0

    async def handle(self, msg: Msg) -> None:
        match msg:
            case Add(n=n, reply=reply):
                self.total += n
                reply.ok(self.total)
            case Boom():
                raise RuntimeError("boom")

    async def stopped(self) -> None:
        self.stopped_with = self.total


async def test_call_returns_the_answer() -> None:
    box: Mailbox[Msg] = open_mailbox("counter")
    actor = Counter(box.inbox)
    async with trio.open_nursery() as n:
        await n.start(actor.run)
        assert await box.address.call(lambda r: Add(n=2, reply=r)) == 2
        assert await box.address.call(lambda r: Add(n=3, reply=r)) == 5
        box.close()
    assert actor.stopped_with == 5


async def test_crash_fails_the_waiting_caller_at_once() -> None:
    box: Mailbox[Msg] = open_mailbox("counter")
    actor = Counter(box.inbox)
    crashes: list[BaseException] = []

    async def supervised(*, task_status: trio.TaskStatus[None]) -> None:
        try:
            await actor.run(task_status=task_status)
        except RuntimeError as exc:  # what the supervisor would see
            crashes.append(exc)

    async with trio.open_nursery() as n:
        await n.start(supervised)
        with trio.fail_after(1), pytest.raises(ActorCrashed):  # far below the call's timeout
            await box.address.call(lambda r: Boom(reply=r), timeout=30)
    assert [str(e) for e in crashes] == ["boom"]


async def test_call_times_out_when_nobody_answers(autojump_clock: trio.testing.MockClock) -> None:
    box: Mailbox[Msg] = open_mailbox("silent", capacity=1)
    with pytest.raises(CallTimeout, match="silent did not answer within 2s"):
        await box.address.call(lambda r: Add(n=1, reply=r), timeout=2)


async def test_full_mailbox_applies_backpressure_not_drops() -> None:
    box: Mailbox[Msg] = open_mailbox("slow", capacity=1)
    assert box.address.try_cast(Add(n=1, reply=ReplyTo()))
    assert not box.address.try_cast(Add(n=2, reply=ReplyTo()))
    assert box.address.statistics().current_buffer_used == 1


async def test_cast_to_closed_mailbox_says_stopped() -> None:
    box: Mailbox[Msg] = open_mailbox("gone")
    box.close()
    with pytest.raises(ActorStopped):
        await box.address.cast(Add(n=1, reply=ReplyTo()))


async def test_late_reply_is_discarded_without_blocking() -> None:
    reply: ReplyTo[int] = ReplyTo()
    reply.ok(1)
    reply.ok(2)  # second answer ignored, never blocks the actor
    assert await reply.wait("x", 1) == 1


async def test_a_call_into_a_full_mailbox_waits_for_room_then_for_the_answer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    box: Mailbox[Msg] = open_mailbox("busy", capacity=1)
    assert box.address.try_cast(Add(n=1, reply=ReplyTo()))
    answers: list[int] = []

    async def caller() -> None:
        answers.append(await box.address.call(lambda r: Add(n=2, reply=r), timeout=5))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller)
        await trio.sleep(1)
        first = await box.inbox.receive()  # room: the call's message goes in
        first.reply.ok(1)
        second = await box.inbox.receive()
        assert isinstance(second, Add)
        assert second.n == 2
        second.reply.ok(3)
    assert answers == [3]


async def test_a_calls_timeout_bounds_the_wait_for_room_and_answer_together(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Room came after 1.5 s of a 2 s bound, and no answer: the call gives up at 2 s,
    not 2 s after the room (a scrape's 2 s held twice over)."""
    box: Mailbox[Msg] = open_mailbox("slow", capacity=1)
    assert box.address.try_cast(Add(n=1, reply=ReplyTo()))
    gave_up: list[float] = []

    async def caller() -> None:
        with pytest.raises(CallTimeout) as raised:
            await box.address.call(lambda r: Add(n=2, reply=r), timeout=2)
        assert raised.value.timeout == 2
        gave_up.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller)
        await trio.sleep(1.5)
        await box.inbox.receive()  # room; the call's message is never answered
    assert gave_up == [pytest.approx(2.0)]


async def test_a_call_times_out_when_the_mailbox_stays_full(
    autojump_clock: trio.testing.MockClock,
) -> None:
    box: Mailbox[Msg] = open_mailbox("stuck", capacity=1)
    assert box.address.try_cast(Add(n=1, reply=ReplyTo()))
    with pytest.raises(CallTimeout):
        await box.address.call(lambda r: Add(n=2, reply=r), timeout=2)


async def test_take_token_takes_a_free_one_and_waits_for_a_taken_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter = trio.CapacityLimiter(1)
    assert await take_token(limiter)
    assert limiter.borrowed_tokens == 1
    got: list[bool] = []

    async def other() -> None:
        got.append(await take_token(limiter, timeout=5))
        limiter.release()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        await trio.sleep(3)
        assert got == []  # still waiting
        limiter.release()
    assert got == [True]


async def test_take_token_gives_up_after_its_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter = trio.CapacityLimiter(1)
    await limiter.acquire_on_behalf_of("someone")
    started = trio.current_time()
    assert not await take_token(limiter, timeout=2)
    assert trio.current_time() - started == pytest.approx(2)
    assert limiter.borrowed_tokens == 1


async def test_put_sends_at_once_when_there_is_room_and_waits_when_full(
    autojump_clock: trio.testing.MockClock,
) -> None:
    send, recv = trio.open_memory_channel[int](1)
    await put(send, 1)
    done: list[int] = []

    async def second() -> None:
        await put(send, 2)
        done.append(2)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(second)
        await trio.sleep(1)
        assert done == []  # full: it waits, nothing is dropped
        assert await recv.receive() == 1
    assert done == [2]
    assert await recv.receive() == 2
