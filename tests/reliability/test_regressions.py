"""Regression tests for the defects the reliability suite found, each at the smallest
scale that shows it (the scenarios show them end to end).

1. Storage outage (part 4): every actor journals to PostgreSQL, so with the server
   down they all crashed, were restarted, failed to load, and within half a second
   the supervisor gave up (``crashed 6 times within 30s``): the daemon exited 1. Now a
   crash that says "the database cannot be reached" is not counted; the child is
   restarted every ``backoff_max_s`` until the store is back.
2. Oversized webhook (part 3, fuzz): a 413 left the rest of the body unread and the
   server dropped the keep-alive connection without saying so; the client's next
   delivery on it failed with no answer. The 413 now carries ``Connection: close``.
"""

from __future__ import annotations

import errno
from typing import Any

import pytest
import trio
import trio.testing

from daemon.store.errors import StoreError, is_outage
from daemon.supervisor import ChildSpec, Intensity, Supervisor, TooManyRestarts
from tests.unit.daemon.webhook.test_ingest import MAX_BODY, call, make_app, signed


class _SqlState(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _wrapped(inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise StoreError("batched write to outbox failed") from exc
    except StoreError as outer:
        return outer


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        ConnectionResetError(errno.ECONNRESET, "reset"),
        FileNotFoundError(errno.ENOENT, "no socket"),
        TimeoutError(),
        _SqlState("57P03"),  # cannot connect now (shutting down / starting up)
        _SqlState("57P01"),  # admin shutdown
        _SqlState("08003"),  # connection does not exist
        _wrapped(_SqlState("08006")),
        ExceptionGroup("several", [ValueError("x"), ConnectionRefusedError()]),
    ],
)
def test_unreachable_database_errors_are_an_outage(exc: BaseException) -> None:
    assert is_outage(exc)


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("bug"),
        AssertionError("unreachable"),
        _SqlState("23505"),  # unique violation: a query problem, not an outage
        _SqlState("42P01"),  # undefined table
        _wrapped(_SqlState("23503")),
        PermissionError(errno.EACCES, "denied"),
    ],
)
def test_other_errors_are_not_an_outage(exc: BaseException) -> None:
    assert not is_outage(exc)


class _NeedsStore:
    """A child whose first ``down`` runs fail as if PostgreSQL were stopped."""

    def __init__(self, down: int, error: type[Exception] = ConnectionRefusedError) -> None:
        self.down = down
        self.error = error
        self.starts = 0

    async def __call__(self, *, task_status: trio.TaskStatus[Any]) -> None:
        self.starts += 1
        task_status.started()
        if self.starts <= self.down:
            await trio.sleep(0.01)
            raise self.error("the database system is shutting down")
        await trio.sleep_forever()


INTENSITY = Intensity(max_restarts=3, period_s=30, backoff_min_s=0.05, backoff_max_s=1.0)


async def test_a_store_outage_does_not_exhaust_the_restart_budget(
    autojump_clock: trio.testing.MockClock,
) -> None:
    child = _NeedsStore(down=50)
    events: list[str] = []
    sup = Supervisor("root", INTENSITY, on_event=lambda e: events.append(e.kind))
    async with trio.open_nursery() as n:
        await n.start(sup.run, [ChildSpec("chip:1", child)])
        await trio.sleep(120)  # a two-minute outage
        assert child.starts == 51  # it came back once the store did
        assert "chip:1" not in sup.down
        assert "gave_up" not in events
        n.cancel_scope.cancel()


async def test_a_store_outage_retries_at_the_longest_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    child = _NeedsStore(down=5)
    sup = Supervisor("root", INTENSITY)
    async with trio.open_nursery() as n:
        await n.start(sup.run, [ChildSpec("chip:1", child)])
        await trio.sleep(4.0)  # 5 failures x (0.01 s + 1 s): not all retried yet
        assert child.starts < 6
        await trio.sleep(2.0)
        assert child.starts == 6
        n.cancel_scope.cancel()


async def test_real_crash_loops_still_give_up(autojump_clock: trio.testing.MockClock) -> None:
    child = _NeedsStore(down=50, error=RuntimeError)
    sup = Supervisor("root", INTENSITY)
    with pytest.RaisesGroup(pytest.RaisesExc(TooManyRestarts), flatten_subgroups=True):
        async with trio.open_nursery() as n:
            await n.start(sup.run, [ChildSpec("chip:1", child)])


async def test_oversized_webhook_answer_closes_the_connection() -> None:
    app = make_app()
    raw = b"{" + b" " * MAX_BODY + b"}"
    reply = await call(app, body=raw, headers=signed(raw))
    assert reply.status == 413
    assert (b"connection", b"close") in reply.headers


async def test_other_webhook_answers_keep_the_connection() -> None:
    reply = await call(make_app(), body=b"{}", headers=signed(b"{}"))
    assert reply.status == 200
    assert all(name != b"connection" for name, _ in reply.headers)
