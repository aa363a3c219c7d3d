"""The daemon process: storage, then the supervised actors, then READY; SIGTERM undoes it.

Why this order: actors rebuild from storage, so storage comes first and goes last; the
READY line (and, under systemd, the readiness notification) is only written once every
actor has loaded its state, so "ready" means "answers correctly", not "process exists".

Shutdown (SIGTERM/SIGINT, or :attr:`Daemon.stop`): stop taking new work, close every
mailbox so each actor finishes what it holds, then leave the store, which flushes its
writer and stops the embedded PostgreSQL. The whole sequence is bounded by
``daemon.shutdown_timeout_s``; whatever has not finished by then is cancelled.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass, field

import trio

from config import MetadConfig, resolve_secrets
from daemon.fleet import Fleet
from daemon.logs import fields
from daemon.statelock import state_dir_lock
from daemon.store import Store, open_store
from daemon.supervisor import Intensity, Supervisor, SupervisorEvent

__all__ = ["Daemon", "run_daemon"]

log = logging.getLogger("metad.daemon")


@dataclass(slots=True)
class Daemon:
    """Handles to a running daemon, given to ``task_status.started`` (tests, control)."""

    cfg: MetadConfig
    store: Store
    supervisor: Supervisor
    fleet: Fleet
    stop: trio.Event = field(default_factory=trio.Event)
    events: list[SupervisorEvent] = field(default_factory=list)


async def _watch_signals(stop: trio.Event, *, task_status: trio.TaskStatus[None]) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        task_status.started()
        async for signum in signals:
            log.info("received %s, shutting down", signal.Signals(signum).name)
            stop.set()
            return


async def run_daemon(
    cfg: MetadConfig,
    *,
    handle_signals: bool = True,
    task_status: trio.TaskStatus[Daemon] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run until stopped; raises on a failure to start or on a crash loop."""
    resolve_secrets(cfg)  # fail before anything starts when a secret is unreadable
    sup_cfg = cfg.supervisor
    events: list[SupervisorEvent] = []
    supervisor = Supervisor(
        "root",
        Intensity(
            sup_cfg.max_restarts, sup_cfg.period_s, sup_cfg.backoff_min_s, sup_cfg.backoff_max_s
        ),
        on_event=events.append,
    )
    with state_dir_lock(cfg.daemon.state_dir):
        await _serve(cfg, supervisor, events, handle_signals, task_status=task_status)
    log.info("stopped")


async def _serve(
    cfg: MetadConfig,
    supervisor: Supervisor,
    events: list[SupervisorEvent],
    handle_signals: bool,
    *,
    task_status: trio.TaskStatus[Daemon],
) -> None:
    async with open_store(cfg.storage, state_dir=cfg.daemon.state_dir) as store:
        fleet = Fleet(cfg, chips=store.chips, wabas=store.wabas, supervisor=supervisor)
        daemon = Daemon(cfg, store, supervisor, fleet, events=events)
        async with trio.open_nursery() as nursery:
            if handle_signals:
                await nursery.start(_watch_signals, daemon.stop)
            actors_done = trio.Event()
            await nursery.start(_run_actors, supervisor, fleet, actors_done)
            chips, wabas = fleet.counts
            log.info(
                "READY",
                extra=fields(
                    chips=chips,
                    wabas=wabas,
                    storage="embedded" if not cfg.storage.dsn else "external",
                    sandbox=cfg.sandbox.enabled,
                ),
            )
            task_status.started(daemon)
            # A crash loop ends _run_actors with an error, which cancels this wait.
            await daemon.stop.wait()
            await _shutdown(cfg, supervisor, fleet, actors_done)
            nursery.cancel_scope.cancel()


async def _run_actors(
    supervisor: Supervisor,
    fleet: Fleet,
    done: trio.Event,
    *,
    task_status: trio.TaskStatus[None],
) -> None:
    try:
        await supervisor.run(fleet.specs(), task_status=task_status)
    finally:
        done.set()


async def _shutdown(
    cfg: MetadConfig, supervisor: Supervisor, fleet: Fleet, done: trio.Event
) -> None:
    # Leave a share of the budget for the store to flush and the server to stop.
    budget = cfg.daemon.shutdown_timeout_s * 0.6
    supervisor.stopping()
    fleet.close()
    with trio.move_on_after(budget) as scope:
        await done.wait()
    if scope.cancelled_caught:
        log.warning("actors did not finish within %.1fs; cancelling them", budget)
