"""One-for-one supervision of actors, with backoff and a restart budget.

Why: a bug or a bad answer from Meta must not take the whole fleet down. A crashed
actor is restarted alone, after a growing pause, and rebuilds its state from storage.
But a crash loop must not hide either: past ``max_restarts`` within ``period_s`` the
supervisor raises :class:`TooManyRestarts`, the daemon exits non-zero, and systemd
(which sees the failure) decides what happens next — the OTP way. One exception: a
crash because the database cannot be reached (:func:`daemon.store.errors.is_outage`) is
not counted; the child is restarted every ``backoff_max_s`` until the store is back, so
a PostgreSQL restart does not take the daemon down (the watchdog still stops pinging
while the store is down, so systemd steps in if it never comes back).

Children are started in order and each must report ``task_status.started()``; a child
that fails before that fails the boot (fail fast). Shutdown is cooperative: the daemon
closes the mailboxes, children drain what they hold and return, and a child returning
while the supervisor is stopping is not a crash.

A config reload changes the set while it runs: :meth:`Supervisor.start_child` adds one,
:meth:`Supervisor.stop_child` retires one (its return is not a crash), and
:meth:`Supervisor.restart_child` restarts one at once so it rebuilds with the new config
(not a crash either: no backoff, nothing counted). :attr:`Supervisor.down` names the
children not serving right now, for the readiness probe.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any, Protocol

import trio

from daemon.store.errors import is_outage

__all__ = [
    "ChildSpec",
    "Intensity",
    "Restart",
    "Supervisor",
    "SupervisorEvent",
    "TooManyRestarts",
    "backoff_delay",
]

log = logging.getLogger("metad.supervisor")


class Restart(Enum):
    PERMANENT = auto()
    """Always restarted; returning on its own counts as a crash (it should run forever)."""
    TRANSIENT = auto()
    """Restarted only after an exception."""
    TEMPORARY = auto()
    """Never restarted."""


class ChildRun(Protocol):
    def __call__(self, *, task_status: trio.TaskStatus[Any]) -> Awaitable[None]: ...


@dataclass(frozen=True, slots=True)
class ChildSpec:
    id: str
    run: ChildRun
    """``async fn(*, task_status)``: loads its state, calls ``started()``, then serves."""
    restart: Restart = Restart.PERMANENT


@dataclass(frozen=True, slots=True)
class Intensity:
    max_restarts: int = 5
    period_s: float = 30.0
    backoff_min_s: float = 0.05
    backoff_max_s: float = 2.0


@dataclass(frozen=True, slots=True)
class SupervisorEvent:
    """Published on every crash and restart so the console can show them."""

    kind: str  # "crashed" | "restarted" | "gave_up"
    actor_id: str
    error: str
    restarts: int


class TooManyRestarts(Exception):
    def __init__(self, actor_id: str, restarts: int, period_s: float) -> None:
        super().__init__(
            f"actor {actor_id} crashed {restarts} times within {period_s:g}s; giving up"
        )
        self.actor_id = actor_id


class _Killed(Exception):
    """Stands in for the error of a child killed on request (operator or test)."""


def backoff_delay(restarts_in_window: int, intensity: Intensity) -> float:
    """Exponential pause before restart number ``restarts_in_window`` (1-based); pure."""
    if restarts_in_window <= 0:
        return 0.0
    delay = intensity.backoff_min_s * math.pow(2, restarts_in_window - 1)
    return float(min(delay, intensity.backoff_max_s))


@dataclass(slots=True)
class _Child:
    spec: ChildSpec
    scope: trio.CancelScope | None = None
    kill_reason: str | None = None
    crashes: deque[float] = field(default_factory=deque)
    restarts: int = 0
    up: bool = False
    came_up: trio.Event = field(default_factory=trio.Event)
    """Set (and replaced) each time the child reports started."""
    done: trio.Event = field(default_factory=trio.Event)
    retiring: bool = False
    reload: bool = False


def _unwrap(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class Supervisor:
    """Supervises a fixed, ordered set of children, one-for-one."""

    def __init__(
        self,
        name: str,
        intensity: Intensity,
        *,
        on_event: Callable[[SupervisorEvent], None] | None = None,
        outage: Callable[[BaseException], bool] = is_outage,
    ) -> None:
        self.name = name
        self.intensity = intensity
        self._on_event = on_event
        self._outage = outage
        self._children: dict[str, _Child] = {}
        self._stopping = False
        self._nursery: trio.Nursery | None = None

    @property
    def child_ids(self) -> list[str]:
        return list(self._children)

    def restarts(self, actor_id: str) -> int:
        return self._children[actor_id].restarts

    @property
    def down(self) -> list[str]:
        """Children not serving right now: starting, restarting or waiting to restart."""
        return [cid for cid, child in self._children.items() if not child.up]

    def stopping(self) -> None:
        """From now on, a child that returns has finished, not crashed."""
        self._stopping = True

    def kill(self, actor_id: str, reason: str = "killed on request") -> None:
        """Crash one child on purpose; it is restarted like any crashed child."""
        child = self._children[actor_id]
        child.kill_reason = reason
        if child.scope is not None:
            child.scope.cancel()

    async def run(
        self,
        children: Sequence[ChildSpec],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Start ``children`` in order, report started, supervise until all return."""
        for spec in children:
            if spec.id in self._children:
                raise ValueError(f"duplicate child id {spec.id!r}")
            self._children[spec.id] = _Child(spec)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for spec in children:
                await nursery.start(self._supervise, self._children[spec.id])
            task_status.started()

    async def start_child(self, spec: ChildSpec) -> None:
        """Add one child while running and wait until it has started (or failed to)."""
        if self._nursery is None or self._stopping:
            raise RuntimeError(f"supervisor {self.name} is not running")
        if spec.id in self._children:
            raise ValueError(f"duplicate child id {spec.id!r}")
        child = self._children[spec.id] = _Child(spec)
        try:
            await self._nursery.start(self._supervise, child)
        except Exception as exc:
            del self._children[spec.id]
            raise _unwrap(exc) from None

    async def stop_child(self, actor_id: str, *, close: Callable[[], None], timeout: float) -> bool:
        """Retire one child: ``close()`` (its mailbox) lets it finish and return; past
        ``timeout`` it is cancelled. False when it had to be cancelled."""
        child = self._children[actor_id]
        child.retiring = True
        close()
        with trio.move_on_after(timeout):
            await child.done.wait()
        graceful = child.done.is_set()
        if not graceful and child.scope is not None:
            log.warning("actor %s did not stop within %gs; cancelling it", actor_id, timeout)
            child.scope.cancel()
        await child.done.wait()
        del self._children[actor_id]
        return graceful

    async def restart_child(self, actor_id: str, *, timeout: float) -> bool:
        """Restart one child now so it rebuilds (with a new config); not counted as a
        crash. False when it was not back up within ``timeout``."""
        child = self._children[actor_id]
        came_up = child.came_up
        if child.scope is None:  # between runs: its next start reads the new config
            return True
        child.reload = True
        child.scope.cancel()
        with trio.move_on_after(timeout):
            await came_up.wait()
        return came_up.is_set()

    async def _supervise(self, child: _Child, *, task_status: trio.TaskStatus[None]) -> None:
        try:
            await self._supervise_loop(child, task_status)
        finally:
            child.up = False
            child.done.set()

    async def _supervise_loop(self, child: _Child, task_status: trio.TaskStatus[None]) -> None:
        started = reloaded = False
        while not child.retiring:
            error: BaseException | None = None
            try:
                with trio.CancelScope() as child.scope:
                    async with trio.open_nursery() as inner:
                        await inner.start(_call_run, child.spec.run)
                        child.up = True
                        child.came_up.set()
                        child.came_up = trio.Event()
                        if not started:
                            started = True
                            task_status.started()
                        elif reloaded:
                            reloaded = False
                        else:
                            log.warning(
                                "actor %s restarted (restart #%d)", child.spec.id, child.restarts
                            )
                            self._emit(
                                SupervisorEvent("restarted", child.spec.id, "", child.restarts)
                            )
            except Exception as exc:
                if not started:
                    raise
                error = _unwrap(exc)
            finally:
                child.scope = None
                child.up = False
            stopping = self._stopping or child.retiring
            if child.reload and not stopping:
                child.reload, reloaded = False, True
                log.info("actor %s restarting to apply a new config", child.spec.id)
                if error is not None:
                    log.warning("actor %s failed while restarting: %r", child.spec.id, error)
                continue
            if child.kill_reason is not None:
                error, child.kill_reason = _Killed(child.kill_reason), None
            if error is None:
                if stopping or child.spec.restart is not Restart.PERMANENT:
                    return
                error = RuntimeError("returned while it should run forever")
            if stopping or child.spec.restart is Restart.TEMPORARY:
                log.error("actor %s failed during shutdown: %r", child.spec.id, error)
                return
            await self._before_restart(child, error)

    async def _before_restart(self, child: _Child, error: BaseException) -> None:
        actor_id = child.spec.id
        now = trio.current_time()
        if self._outage(error):
            # The store is down (every actor journals to it): restarting cannot help
            # until it is back, and giving up would take the daemon down with it. Wait
            # and try again, without counting towards the restart budget.
            text = f"storage unavailable: {type(error).__name__}: {error}"
            log.warning(
                "actor %s stopped (%s); restarting in %gs",
                actor_id,
                text,
                self.intensity.backoff_max_s,
            )
            self._emit(SupervisorEvent("crashed", actor_id, text, child.restarts))
            await trio.sleep(self.intensity.backoff_max_s)
            child.restarts += 1
            return
        child.crashes.append(now)
        while child.crashes and child.crashes[0] < now - self.intensity.period_s:
            child.crashes.popleft()
        in_window = len(child.crashes)
        text = f"{type(error).__name__}: {error}"
        log.error(
            "actor %s crashed (%d in %gs): %s",
            actor_id,
            in_window,
            self.intensity.period_s,
            text,
            exc_info=None if isinstance(error, _Killed) else error,
        )
        self._emit(SupervisorEvent("crashed", actor_id, text, child.restarts))
        if in_window > self.intensity.max_restarts:
            self._emit(SupervisorEvent("gave_up", actor_id, text, child.restarts))
            raise TooManyRestarts(actor_id, in_window, self.intensity.period_s) from error
        await trio.sleep(backoff_delay(in_window, self.intensity))
        child.restarts += 1

    def _emit(self, event: SupervisorEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)


async def _call_run(run: ChildRun, *, task_status: trio.TaskStatus[Any]) -> None:
    await run(task_status=task_status)
