from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from daemon.supervisor import (
    ChildSpec,
    Intensity,
    Restart,
    Supervisor,
    SupervisorEvent,
    TooManyRestarts,
    backoff_delay,
)


class Flaky:
    """A child that crashes its first ``crashes`` runs, then serves until cancelled."""

    def __init__(self, crashes: int, *, fail_on_start: bool = False) -> None:
        self.crashes = crashes
        self.starts = 0
        self.fail_on_start = fail_on_start
        self.started_at: list[float] = []

    async def __call__(self, *, task_status: trio.TaskStatus[Any]) -> None:
        self.starts += 1
        self.started_at.append(trio.current_time())
        if self.fail_on_start:
            raise OSError("cannot load state")
        task_status.started()
        if self.starts <= self.crashes:
            await trio.sleep(0.01)
            raise RuntimeError(f"crash {self.starts}")
        await trio.sleep_forever()


INTENSITY = Intensity(max_restarts=3, period_s=10, backoff_min_s=0.1, backoff_max_s=1.0)


@pytest.mark.parametrize(
    ("n", "expected"), [(0, 0.0), (1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]
)
def test_backoff_doubles_up_to_the_cap(n: int, expected: float) -> None:
    assert backoff_delay(n, INTENSITY) == pytest.approx(expected)


async def test_crashed_child_is_restarted_alone(autojump_clock: trio.testing.MockClock) -> None:
    events: list[SupervisorEvent] = []
    flaky, steady = Flaky(crashes=2), Flaky(crashes=0)
    sup = Supervisor("t", INTENSITY, on_event=events.append)
    async with trio.open_nursery() as n:
        await n.start(sup.run, [ChildSpec("flaky", flaky), ChildSpec("steady", steady)])
        await trio.sleep(5)
        n.cancel_scope.cancel()
    assert flaky.starts == 3
    assert steady.starts == 1
    assert sup.restarts("flaky") == 2
    assert [(e.kind, e.actor_id) for e in events] == [
        ("crashed", "flaky"),
        ("restarted", "flaky"),
        ("crashed", "flaky"),
        ("restarted", "flaky"),
    ]
    # backoff: 0.1 s after the first crash, 0.2 s after the second
    gaps = [b - a for a, b in zip(flaky.started_at, flaky.started_at[1:], strict=False)]
    assert gaps == pytest.approx([0.01 + 0.1, 0.01 + 0.2])


async def test_too_many_restarts_stops_the_supervisor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[SupervisorEvent] = []
    sup = Supervisor("t", INTENSITY, on_event=events.append)
    with pytest.RaisesGroup(
        pytest.RaisesExc(TooManyRestarts, match="flaky crashed 4 times"), flatten_subgroups=True
    ):
        async with trio.open_nursery() as n:
            await n.start(sup.run, [ChildSpec("flaky", Flaky(crashes=100))])
    assert events[-1].kind == "gave_up"


async def test_crashes_outside_the_window_are_forgiven(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor(
        "t", Intensity(max_restarts=1, period_s=1.0, backoff_min_s=2.0, backoff_max_s=2.0)
    )
    flaky = Flaky(crashes=5)
    async with trio.open_nursery() as n:
        await n.start(sup.run, [ChildSpec("flaky", flaky)])
        await trio.sleep(30)
        n.cancel_scope.cancel()
    assert flaky.starts == 6  # each crash is 2 s after the last: never two in 1 s


async def test_failure_before_started_fails_the_boot() -> None:
    sup = Supervisor("t", INTENSITY)
    with pytest.RaisesGroup(
        pytest.RaisesExc(OSError, match="cannot load state"), flatten_subgroups=True
    ):
        async with trio.open_nursery() as n:
            await n.start(sup.run, [ChildSpec("bad", Flaky(0, fail_on_start=True))])


async def test_kill_restarts_a_healthy_child(autojump_clock: trio.testing.MockClock) -> None:
    steady = Flaky(crashes=0)
    sup = Supervisor("t", INTENSITY)
    async with trio.open_nursery() as n:
        await n.start(sup.run, [ChildSpec("steady", steady)])
        sup.kill("steady", "test")
        await trio.sleep(1)
        n.cancel_scope.cancel()
    assert steady.starts == 2
    assert sup.restarts("steady") == 1


async def test_children_that_return_while_stopping_are_done() -> None:
    stop = trio.Event()

    async def polite(*, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        await stop.wait()

    sup = Supervisor("t", INTENSITY)
    with trio.fail_after(1):
        async with trio.open_nursery() as n:
            await n.start(sup.run, [ChildSpec("a", polite), ChildSpec("b", polite)])
            sup.stopping()
            stop.set()
    assert sup.restarts("a") == 0


@pytest.mark.parametrize("restart", [Restart.TRANSIENT, Restart.TEMPORARY])
async def test_non_permanent_child_may_return(restart: Restart) -> None:
    async def once(*, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()

    sup = Supervisor("t", INTENSITY)
    with trio.fail_after(1):
        await sup.run([ChildSpec("once", once, restart)])
    assert sup.restarts("once") == 0


async def test_permanent_child_returning_is_a_crash(autojump_clock: trio.testing.MockClock) -> None:
    runs = 0

    async def quits(*, task_status: trio.TaskStatus[Any]) -> None:
        nonlocal runs
        runs += 1
        task_status.started()

    sup = Supervisor("t", INTENSITY)
    with pytest.RaisesGroup(TooManyRestarts, flatten_subgroups=True):
        await sup.run([ChildSpec("quits", quits)])
    assert runs == INTENSITY.max_restarts + 1
