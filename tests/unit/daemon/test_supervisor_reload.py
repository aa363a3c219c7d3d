"""Changing the supervised set while it runs: start, retire and restart one child."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from daemon.supervisor import ChildSpec, Intensity, Supervisor, SupervisorEvent

INTENSITY = Intensity(max_restarts=3, period_s=10, backoff_min_s=0.1, backoff_max_s=1.0)


class Served:
    """A child that serves until its own ``stop`` event is set (its mailbox closing)."""

    def __init__(self, *, slow_stop: bool = False) -> None:
        self.starts = 0
        self.stop = trio.Event()
        self.slow_stop = slow_stop
        self.cancelled = 0

    async def __call__(self, *, task_status: trio.TaskStatus[Any]) -> None:
        self.starts += 1
        task_status.started()
        try:
            await self.stop.wait()
            if self.slow_stop:
                await trio.sleep_forever()
        except trio.Cancelled:
            self.cancelled += 1
            raise


async def test_a_child_added_while_running_is_supervised(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor("t", INTENSITY)
    first, added = Served(), Served()
    async with trio.open_nursery() as n:
        await n.start(sup.run, [ChildSpec("first", first)])
        await sup.start_child(ChildSpec("added", added))
        assert added.starts == 1
        assert sup.child_ids == ["first", "added"]
        assert sup.down == []
        with pytest.raises(ValueError, match="duplicate"):
            await sup.start_child(ChildSpec("added", added))
        n.cancel_scope.cancel()


async def test_a_child_failing_to_start_is_not_added(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def broken(*, task_status: trio.TaskStatus[Any]) -> None:
        raise OSError("cannot load state")

    sup = Supervisor("t", INTENSITY)
    async with trio.open_nursery() as n:
        await n.start(sup.run, [ChildSpec("first", Served())])
        with pytest.raises(OSError, match="cannot load"):
            await sup.start_child(ChildSpec("broken", broken))
        assert sup.child_ids == ["first"]
        n.cancel_scope.cancel()


async def test_a_retired_child_returning_is_not_a_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[SupervisorEvent] = []
    sup = Supervisor("t", INTENSITY, on_event=events.append)
    gone = Served()
    async with trio.open_nursery() as n:
        await n.start(sup.run, [ChildSpec("kept", Served()), ChildSpec("gone", gone)])
        assert await sup.stop_child("gone", close=gone.stop.set, timeout=1)
        await trio.sleep(5)
        assert gone.starts == 1
        assert sup.child_ids == ["kept"]
        n.cancel_scope.cancel()
    assert events == []


async def test_a_retired_child_that_hangs_is_cancelled_after_the_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor("t", INTENSITY)
    stuck = Served(slow_stop=True)
    async with trio.open_nursery() as n:
        await n.start(sup.run, [ChildSpec("stuck", stuck)])
        start = trio.current_time()
        assert not await sup.stop_child("stuck", close=stuck.stop.set, timeout=2)
        assert trio.current_time() - start == pytest.approx(2)
        assert stuck.cancelled == 1
        assert sup.child_ids == []
        n.cancel_scope.cancel()


async def test_restart_child_rebuilds_at_once_without_counting_a_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[SupervisorEvent] = []
    sup = Supervisor("t", INTENSITY, on_event=events.append)
    child, other = Served(), Served()
    async with trio.open_nursery() as n:
        await n.start(sup.run, [ChildSpec("child", child), ChildSpec("other", other)])
        start = trio.current_time()
        assert await sup.restart_child("child", timeout=1)
        assert trio.current_time() == start  # no backoff
        assert child.starts == 2
        assert child.cancelled == 1
        assert other.starts == 1
        assert sup.restarts("child") == 0
        assert sup.down == []
        n.cancel_scope.cancel()
    assert events == []


async def test_down_names_a_child_waiting_to_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    crashes = 0

    async def crashing(*, task_status: trio.TaskStatus[Any]) -> None:
        nonlocal crashes
        task_status.started()
        if crashes == 0:
            crashes += 1
            raise RuntimeError("boom")
        await trio.sleep_forever()

    sup = Supervisor("t", INTENSITY)
    async with trio.open_nursery() as n:
        await n.start(sup.run, [ChildSpec("ok", Served()), ChildSpec("crashing", crashing)])
        assert sup.down == ["crashing"]  # in its 0.1 s backoff
        await trio.sleep(0.2)
        assert sup.down == []
        n.cancel_scope.cancel()
