"""GroupCommit: batches form while one is written, keys never share a batch, callers
cancelled while queued withdraw, and the lead passes on."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from daemon.store.writer import BatchWriteError, GroupCommit


class Writer:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = trio.Event()
        self.gate.set()
        self.fail: str | None = None

    async def write(self, ops: list[str]) -> list[str | BaseException]:
        self.batches.append(list(ops))
        await self.gate.wait()
        if self.fail is not None and self.fail in ops:
            raise RuntimeError("connection lost")
        return [ValueError(op) if op.startswith("bad") else op.upper() for op in ops]


def _key(op: str) -> str:
    return op.split(":")[0]


async def test_callers_arriving_during_a_write_share_the_next_batch() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=lambda op: op)
    w.gate = trio.Event()
    got: dict[str, str] = {}

    async def one(op: str) -> None:
        got[op] = await gc.submit(op)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(one, "a")
        await trio.testing.wait_all_tasks_blocked()
        for op in "bcde":
            nursery.start_soon(one, op)
        await trio.testing.wait_all_tasks_blocked()
        w.gate.set()
    assert [sorted(b) for b in w.batches] == [["a"], ["b", "c", "d", "e"]]
    assert got == {op: op.upper() for op in "abcde"}
    assert (gc.batches, gc.ops) == (2, 5)


async def test_the_same_key_waits_for_the_next_batch_in_order() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=_key)
    async with trio.open_nursery() as nursery:
        for op in ("x:1", "y:1", "x:2", "z:1", "x:3"):
            nursery.start_soon(gc.submit, op)
            await trio.lowlevel.checkpoint()
    flat = [op for batch in w.batches for op in batch]
    assert [op for op in flat if op.startswith("x")] == ["x:1", "x:2", "x:3"]
    for batch in w.batches:
        keys = [_key(op) for op in batch]
        assert len(keys) == len(set(keys))


async def test_a_bad_operation_fails_alone_and_a_failed_write_fails_its_batch() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=lambda op: op)
    with pytest.raises(ValueError, match="bad"):
        await gc.submit("bad")
    assert await gc.submit("ok") == "OK"
    w.fail = "boom"
    with pytest.raises(BatchWriteError, match="connection lost"):
        await gc.submit("boom")
    assert await gc.submit("after") == "AFTER"  # the lead was passed on


async def test_a_caller_cancelled_while_queued_is_not_written() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=lambda op: op)
    w.gate = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(gc.submit, "lead")
        await trio.testing.wait_all_tasks_blocked()
        scope = trio.CancelScope()

        async def cancelled() -> None:
            with scope:
                await gc.submit("gone")

        nursery.start_soon(cancelled)
        nursery.start_soon(gc.submit, "stays")
        await trio.testing.wait_all_tasks_blocked()
        scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        w.gate.set()
    assert w.batches == [["lead"], ["stays"]]


async def test_the_next_leader_cancelled_before_it_runs_passes_the_lead_on() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=lambda op: op)
    w.gate = trio.Event()
    scope = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(gc.submit, "lead")
        await trio.testing.wait_all_tasks_blocked()

        async def next_leader() -> None:
            with scope:
                await gc.submit("next")

        nursery.start_soon(next_leader)
        nursery.start_soon(gc.submit, "later")
        await trio.testing.wait_all_tasks_blocked()
        w.gate.set()  # "lead" finishes and hands the lead to "next" …
        scope.cancel()  # … which is cancelled in the same scheduling round
    with trio.fail_after(1):
        assert await gc.submit("again") == "AGAIN"
    assert ["later"] in w.batches or ["next", "later"] in w.batches


async def test_the_leader_cancelled_mid_write_still_completes_the_batch() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=lambda op: op)
    w.gate = trio.Event()
    got: list[str] = []
    scope = trio.CancelScope()

    async def leader() -> None:
        with scope:
            await gc.submit("lead")

    async def follower() -> None:
        got.append(await gc.submit("f"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(leader)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(follower)
        await trio.testing.wait_all_tasks_blocked()
        scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        w.gate.set()
    assert got == ["F"]
    assert w.batches == [["lead"], ["f"]]


async def test_a_caller_cancelled_while_its_batch_is_written_leaves_it_alone() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=lambda op: op)
    w.gate = trio.Event()
    scope = trio.CancelScope()
    got: list[str] = []

    async def follower(op: str, scope: trio.CancelScope | None = None) -> None:
        with scope or trio.CancelScope():
            got.append(await gc.submit(op))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(gc.submit, "lead")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(follower, "a", scope)
        nursery.start_soon(follower, "b")
        await trio.testing.wait_all_tasks_blocked()
        w.gate.set()  # the lead's batch ends; "a" or "b" leads the next …
        await trio.lowlevel.checkpoint()
        w.gate = trio.Event()
        await trio.testing.wait_all_tasks_blocked()  # … which is being written now
        scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        w.gate.set()
    assert [sorted(b) for b in w.batches] == [["lead"], ["a", "b"]]
    assert "B" in got


async def test_plain_operations_share_a_batch() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=lambda op: None)
    w.gate = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(gc.submit, "lead")
        await trio.testing.wait_all_tasks_blocked()
        for _ in range(3):
            nursery.start_soon(gc.submit, "same")
        await trio.testing.wait_all_tasks_blocked()
        w.gate.set()
    assert w.batches == [["lead"], ["same", "same", "same"]]


# --- many operations from one caller --------------------------------------------------------


async def test_many_operations_of_one_caller_share_a_batch_with_the_others() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=_key)
    w.gate = trio.Event()
    got: list[object] = []

    async def many() -> None:
        outcomes = await gc.submit_many(["a:1", "b:1", "bad:1", "c:1"])
        got.extend(o.value if hasattr(o, "value") else type(o.error).__name__ for o in outcomes)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(gc.submit, "first:1")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(many)
        nursery.start_soon(gc.submit, "d:1")
        await trio.testing.wait_all_tasks_blocked()
        w.gate.set()
    first, second = w.batches  # trio may start "many" or "d" first: either order is fine
    assert first == ["first:1"]
    assert sorted(second) == ["a:1", "b:1", "bad:1", "c:1", "d:1"]
    assert [op for op in second if op != "d:1"] == ["a:1", "b:1", "bad:1", "c:1"]
    assert got == ["A:1", "B:1", "ValueError", "C:1"]  # a bad one fails alone, in its place
    assert (gc.batches, gc.ops) == (2, 6)


async def test_a_repeated_key_splits_one_callers_operations_in_order() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=_key)
    outcomes = await gc.submit_many(["x:1", "y:1", "x:2", "x:3"])
    assert [o.unwrap() for o in outcomes] == ["X:1", "Y:1", "X:2", "X:3"]
    assert w.batches == [["x:1", "y:1"], ["x:2"], ["x:3"]]


async def test_a_caller_with_more_than_a_batch_goes_alone_and_others_fill_the_rest() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=lambda op: op, max_batch=3)
    w.gate = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(gc.submit, "a")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(gc.submit, "b")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(gc.submit_many, ["c", "d", "e", "f"])
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(gc.submit, "g")
        await trio.testing.wait_all_tasks_blocked()
        w.gate.set()
    # b and g fill a batch; c..f (more than max_batch) is written whole, never split.
    assert w.batches == [["a"], ["b", "g"], ["c", "d", "e", "f"]]


async def test_a_failed_write_fails_every_operation_of_the_caller() -> None:
    w = Writer()
    gc = GroupCommit(w.write, key=lambda op: op)
    w.fail = "boom"
    outcomes = await gc.submit_many(["ok", "boom"])
    for o in outcomes:
        with pytest.raises(BatchWriteError, match="connection lost"):
            o.unwrap()
    assert await gc.submit("after") == "AFTER"
