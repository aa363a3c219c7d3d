"""When a weekly job is due (pure), and the scheduler loop that asks."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.testing

from daemon.scheduler import Job, due, last_slot, run_scheduler

SP = ZoneInfo("America/Sao_Paulo")


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0, tz: ZoneInfo = SP) -> float:
    return dt.datetime(y, mo, d, h, mi, tzinfo=tz).timestamp()


# 2026-11-23 is a Monday.
@pytest.mark.parametrize(
    ("now", "slot"),
    [
        (local(2026, 11, 23, 6, 0), local(2026, 11, 23, 6, 0)),  # exactly at the slot
        (local(2026, 11, 23, 5, 59), local(2026, 11, 16, 6, 0)),  # just before: last week
        (local(2026, 11, 29, 23, 59), local(2026, 11, 23, 6, 0)),  # Sunday night
        (local(2026, 12, 1, 12, 0), local(2026, 11, 30, 6, 0)),  # across a month
        (local(2027, 1, 1, 0, 0), local(2026, 12, 28, 6, 0)),  # across a year
    ],
)
def test_last_slot_is_the_latest_monday_6am_local(now: float, slot: float) -> None:
    assert last_slot(now, SP) == slot


@pytest.mark.parametrize(
    ("now", "last_run", "expected"),
    [
        (local(2026, 11, 25), None, True),  # never ran: at once
        (local(2026, 11, 23, 6, 0), local(2026, 11, 16, 6, 1), True),  # the slot came
        (local(2026, 11, 23, 5, 59), local(2026, 11, 16, 6, 1), False),  # not yet
        (local(2026, 11, 25), local(2026, 11, 23, 6, 0), False),  # ran at the slot
        (local(2026, 11, 25), local(2026, 11, 23, 5, 0), True),  # ran before it: catch up
        (local(2026, 12, 14, 9), local(2026, 11, 23, 7), True),  # down 3 weeks: once
        (local(2026, 11, 25), local(2026, 11, 26), False),  # clock set back
    ],
)
def test_due(now: float, last_run: float | None, expected: bool) -> None:
    assert due(now, last_run, SP) is expected


def test_the_slot_is_local_not_utc() -> None:
    # Monday 06:00 in São Paulo is 09:00 UTC; at 07:00 UTC Monday it is not due yet.
    utc = ZoneInfo("UTC")
    last = local(2026, 11, 16, 10, tz=utc)
    assert not due(local(2026, 11, 23, 7, tz=utc), last, SP)
    assert due(local(2026, 11, 23, 7, tz=utc), last, utc)


class MemoryRuns:
    def __init__(self) -> None:
        self.runs: dict[str, float] = {}

    async def last_run(self, job: str) -> float | None:
        return self.runs.get(job)

    async def mark_run(self, job: str, at: float) -> None:
        self.runs[job] = at


async def test_the_loop_runs_a_due_job_once_per_slot_and_survives_a_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    clock = [local(2026, 11, 23, 5, 0)]
    calls: list[float] = []
    fail = [True]

    async def work(now: float) -> None:
        if fail[0]:
            fail[0] = False
            raise RuntimeError("store hiccup")
        calls.append(now)

    runs = MemoryRuns()
    runs.runs["w"] = local(2026, 11, 16, 6, 0)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_scheduler(
                [Job("w", work)], runs, SP, now=lambda: clock[0], tick_s=1, task_status=task_status
            )
        )
        for minutes in (30, 60, 61, 62, 180):  # 05:30, 06:00 (fails), 06:01, 06:02, 08:00
            clock[0] = local(2026, 11, 23, 5, 0) + minutes * 60
            await trio.sleep(1)
            await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert calls == [local(2026, 11, 23, 6, 1)]
    assert runs.runs["w"] == local(2026, 11, 23, 6, 1)
