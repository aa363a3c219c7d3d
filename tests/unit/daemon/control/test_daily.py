"""The console's daily figures: counted at most every ``DAILY_EVERY_S``, or ten times as
long as the last count took (``DAILY_COST_SHARE``), on a virtual clock.

The store is a stand-in whose query "takes" a set time by jumping the mock clock: no
test here sleeps.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any, cast

import pytest
import trio
from trio.testing import MockClock

from daemon.bus import Bus
from daemon.control.methods import (
    DAILY_COST_SHARE,
    DAILY_EVERY_S,
    ControlContext,
    chips,
    refresh_daily,
)


class _Store:
    """Answers the daily query with ``sent`` = the number of queries so far."""

    def __init__(self, clock: MockClock) -> None:
        self.clock = clock
        self.took = 0.0
        self.queries = 0
        self.fail = False

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        self.queries += 1
        self.clock.jump(self.took)
        if self.fail:
            raise OSError("connection lost")
        return [{"chip": "c1", "sent": self.queries, "cost": 0.5}]


def _ctx(store: _Store) -> ControlContext:
    cfg = SimpleNamespace(tz=dt.UTC)
    return ControlContext(
        cfg=cast(Any, cfg), fleet=cast(Any, None), store=cast(Any, store), bus=Bus()
    )


def test_the_share_is_a_tenth_and_the_floor_five_seconds() -> None:
    assert (DAILY_EVERY_S, DAILY_COST_SHARE) == (5.0, 0.1)


async def test_a_quick_count_is_kept_for_five_seconds(mock_clock: MockClock) -> None:
    store = _Store(mock_clock)
    store.took = 0.01
    ctx = _ctx(store)
    assert await refresh_daily(ctx)
    assert ctx.daily == {"c1": (1, 0.5)}
    start = trio.current_time() - store.took
    mock_clock.jump(DAILY_EVERY_S - store.took - 0.001)
    assert not await refresh_daily(ctx)
    assert store.queries == 1
    assert ctx.daily == {"c1": (1, 0.5)}
    mock_clock.jump(0.001)
    assert trio.current_time() == pytest.approx(start + DAILY_EVERY_S)
    assert await refresh_daily(ctx)
    assert ctx.daily == {"c1": (2, 0.5)}


async def test_a_slow_count_is_kept_ten_times_as_long_as_it_took(mock_clock: MockClock) -> None:
    store = _Store(mock_clock)
    store.took = 2.0  # a very busy day: 2 s of PostgreSQL per count
    ctx = _ctx(store)
    start = trio.current_time()
    await refresh_daily(ctx)
    # Asked every second (the publisher's tick) for a minute: counted every 20 s.
    counted_at = [0.0]
    for _ in range(60):
        mock_clock.jump(1.0)
        before = trio.current_time()
        if await refresh_daily(ctx):
            counted_at.append(before - start)
    assert counted_at == pytest.approx([0.0, 20.0, 40.0, 60.0])
    # Between one count's start and the next, PostgreSQL spent a tenth of the time on it.
    busy = store.took * (len(counted_at) - 1)
    assert busy / counted_at[-1] == pytest.approx(DAILY_COST_SHARE)


async def test_the_interval_follows_the_last_count(mock_clock: MockClock) -> None:
    store = _Store(mock_clock)
    store.took = 3.0
    ctx = _ctx(store)
    await refresh_daily(ctx)
    store.took = 0.1  # the day got quiet (or the cache warm): back to every 5 s
    mock_clock.jump(30.0 - 3.0)
    assert await refresh_daily(ctx)
    mock_clock.jump(DAILY_EVERY_S - 0.1)
    assert await refresh_daily(ctx)
    assert store.queries == 3


async def test_a_failed_count_keeps_the_old_figures_and_waits_too(mock_clock: MockClock) -> None:
    store = _Store(mock_clock)
    ctx = _ctx(store)
    await refresh_daily(ctx)
    mock_clock.jump(DAILY_EVERY_S)
    store.fail, store.took = True, 1.0
    with pytest.raises(OSError, match="connection lost"):
        await refresh_daily(ctx)
    assert ctx.daily == {"c1": (1, 0.5)}
    store.fail = False
    # The failed query took 1 s: the next one waits until 10 s after it started.
    mock_clock.jump(8.9)
    assert not await refresh_daily(ctx)
    mock_clock.jump(0.1)
    assert await refresh_daily(ctx)


async def test_status_counts_them_without_a_console_attached(mock_clock: MockClock) -> None:
    """``metad ctl status`` showed 0 sent today for every chip: only the console's
    publisher counted, and it counts only while a console listens."""
    store = _Store(mock_clock)
    ctx = _ctx(store)
    ctx.fleet = cast(Any, _Fleet())
    assert ctx.bus.subscribers == 0
    await chips(ctx)
    assert store.queries == 1
    assert ctx.daily == {"c1": (1, 0.5)}


class _Fleet:
    async def snapshot(self) -> Any:
        return SimpleNamespace(chips=(), wabas=())
