"""The operations listener: ``/metrics``, ``/healthz`` and ``/readyz`` (``[metrics] listen``).

Why a listener of its own, apart from the webhook endpoint: the webhook port faces Meta
(often through a public proxy) while metrics and probes are for the operator's network;
and a probe must answer even when the webhook path is saturated. It is a bare ASGI app
on the same hypercorn trio worker (no routing framework for three paths).

* ``/healthz``: the process answers HTTP (liveness) — 200 while it runs.
* ``/readyz``: 200 only when the store answers ``SELECT 1`` (within a bound) and every
  supervised actor is up (not starting, restarting or in backoff) and the daemon is not
  stopping; otherwise 503 with a JSON body naming each reason.
* ``/metrics``: the Prometheus text format (:mod:`daemon.metrics`).

Why the handlers never call the store themselves: a store call through the bridge
cannot be cut short (``AsyncioThread.run`` waits until asyncpg has finished, so a
connection is never left mid-query), and when PostgreSQL stops answering without
closing the connection that is as long as the outage. So the store is asked by tasks
of the listener's own (:class:`StoreWatch`), one call of each kind at a time, and a
handler waits for the one in flight only as long as its budget allows: ``/readyz``
says 503 once the ``SELECT 1`` in flight is older than 2 s, and ``/metrics`` shows the
store's figures (open campaigns, outbox in doubt) from the last read that returned,
left out once older than :data:`FIGURES_MAX_AGE_S`.

Why the listener's own SQL is bounded too (``Store.fetchval_within``): otherwise the
probe in flight ran for the whole outage (asyncpg's cancel waits on the silent server),
holding a pooled connection, and a store that came back was reported only once it
ended. Now the ``SELECT 1`` gives up after :data:`PROBE_TIMEOUT_S` (its connection is
closed, not pooled again) and the next ``/readyz`` asks afresh.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import trio

from actors.budget.messages import GetBudget
from actors.campaign.coordinator import ListCampaigns
from actors.chip import ChipSnapshot
from actors.core import ActorCrashed, ActorStopped, CallTimeout
from daemon.metrics import CONTENT_TYPE, FleetState, Metrics, chip_snapshots
from daemon.webhook.server import serve_asgi

if TYPE_CHECKING:
    from daemon.main import Daemon

__all__ = [
    "ScrapeFigures",
    "StoreFigures",
    "StoreProbe",
    "StoreWatch",
    "create_ops_app",
    "fleet_state",
    "read_store_figures",
    "readiness",
    "serve_ops",
    "store_probe",
]

log = logging.getLogger("metad.health")

STORE_TIMEOUT_S = 2.0
PROBE_TIMEOUT_S = STORE_TIMEOUT_S
"""Bound on the probe's own ``SELECT 1`` (acquiring a connection included): the probe a
``/readyz`` gave up on ends with it, so the next one asks afresh."""
IN_DOUBT_TIMEOUT_S = 10.0
"""Bound on the scrape figures' count of the outbox in doubt (read in the background)."""
SNAPSHOT_TIMEOUT_S = 2.0
FIGURES_WAIT_S = 0.25
"""How long a scrape waits for the store figures it asked for before showing the last
ones: a healthy store answers well within it, and a scrape stays well under a second."""
FIGURES_MAX_AGE_S = 60.0
"""Store figures older than this are left out of a scrape (``metad_store_figures_stale``
says so): past it, an outage's last numbers would pass for current ones."""

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
T = TypeVar("T")


# --- store calls in the background -----------------------------------------------------


class Attempt(Generic[T]):
    """One background call: when it started and, once ``done``, what it gave."""

    __slots__ = ("done", "error", "returned", "started", "value")

    def __init__(self, started: float) -> None:
        self.started = started
        self.done = trio.Event()
        self.returned = False
        self.value: T | None = None
        self.error: Exception | None = None

    @property
    def answered(self) -> bool:
        """It returned or raised (not: still running, or cancelled at shutdown)."""
        return self.returned or self.error is not None

    async def wait_until(self, deadline: float) -> None:
        """Wait for it to be done, but not past ``deadline`` (trio time)."""
        with trio.move_on_at(deadline):
            await self.done.wait()


class Background(Generic[T]):
    """``read()`` run in a task of ``nursery``, never more than one at a time.

    Why: callers wait for the attempt in flight only as long as they choose to, while
    the call itself runs for as long as it takes; a store that hangs costs one task,
    not one per request that asked.
    """

    def __init__(self, nursery: trio.Nursery, read: Callable[[], Awaitable[T]]) -> None:
        self._nursery = nursery
        self._read = read
        self._running: Attempt[T] | None = None
        self.latest: tuple[float, T] | None = None
        """The value of the last read that returned, and when that read started."""

    def kick(self) -> Attempt[T]:
        """The attempt in flight, started now if none is."""
        if self._running is None:
            self._running = Attempt(trio.current_time())
            self._nursery.start_soon(self._run, self._running)
        return self._running

    async def _run(self, attempt: Attempt[T]) -> None:
        try:
            attempt.value = await self._read()
            attempt.returned = True
            self.latest = (attempt.started, attempt.value)
        except Exception as exc:
            attempt.error = exc
        finally:
            self._running = None
            attempt.done.set()


class BoundedStore(Protocol):
    """What the listener asks of the store (:class:`daemon.store.Store`)."""

    async def fetchval_within(self, sql: str, *args: object, timeout: float) -> Any: ...


class StoreProbe:
    """``SELECT 1`` for ``/readyz``, asked in the background (one at a time), each
    given up after ``limit_s``."""

    def __init__(
        self, store: BoundedStore, nursery: trio.Nursery, limit_s: float = PROBE_TIMEOUT_S
    ) -> None:
        select = partial(store.fetchval_within, "SELECT 1", timeout=limit_s)
        self._select: Background[Any] = Background(nursery, select)

    async def reason(self, timeout: float = STORE_TIMEOUT_S) -> str | None:
        """Why the store is not ready, or None. Asks afresh unless a probe is in flight
        (then answers from it), and waits until the probe has been in flight
        ``timeout`` s: never longer, even when the probe itself goes on."""
        attempt = self._select.kick()
        await attempt.wait_until(attempt.started + timeout)
        if isinstance(attempt.error, TimeoutError):  # its own bound, PROBE_TIMEOUT_S
            return f"store: no answer to SELECT 1 within {PROBE_TIMEOUT_S:g}s"
        if attempt.error is not None:
            return f"store: {type(attempt.error).__name__}: {attempt.error}"
        if not attempt.answered:
            return f"store: no answer to SELECT 1 within {timeout:g}s"
        return None if attempt.value == 1 else "store: SELECT 1 did not answer 1"


@contextlib.asynccontextmanager
async def store_probe(store: BoundedStore) -> AsyncIterator[StoreProbe]:
    """A probe with a task of its own, for a caller outside the listener. Its exit
    waits for a probe still in flight (the bridge finishes a call it was asked)."""
    async with trio.open_nursery() as nursery:
        yield StoreProbe(store, nursery)
        nursery.cancel_scope.cancel()


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """What a scrape shows that is read from the store: the open campaigns (the
    coordinator reads them there) and ``metad_outbox_in_doubt``; each is left out
    when it could not be read."""

    campaigns: tuple[Mapping[str, Any], ...] = ()
    gauges: Mapping[str, float] = field(default_factory=dict)


CAMPAIGN_COUNTS_MAX_AGE_S = 60.0
"""A paused or draft campaign's counts in a scrape may be this old (recounting each at
every scrape would cost PostgreSQL a pass over its rows every 15 s)."""


async def _open_campaigns(daemon: Daemon) -> tuple[Mapping[str, Any], ...]:
    if daemon.campaigns is None:
        return ()
    with contextlib.suppress(ActorCrashed, ActorStopped, CallTimeout):  # shown as absent
        rows: list[dict[str, Any]] = await daemon.campaigns.call(
            lambda r: ListCampaigns(reply=r, open_only=True, max_age_s=CAMPAIGN_COUNTS_MAX_AGE_S),
            timeout=SNAPSHOT_TIMEOUT_S,
        )
        return tuple(rows)
    return ()


async def _outbox_in_doubt(daemon: Daemon) -> dict[str, float]:
    """Few rows (a crash leaves a handful), found through outbox_state_idx. A store
    that fails leaves the gauge out; /readyz says why."""
    with contextlib.suppress(Exception):
        sql = "SELECT count(*) FROM outbox WHERE state = 'in_doubt'"
        count = await daemon.store.fetchval_within(sql, timeout=IN_DOUBT_TIMEOUT_S)
        return {"metad_outbox_in_doubt": float(count)}
    return {}


async def read_store_figures(daemon: Daemon) -> StoreFigures:
    """The store's figures, both asked at once (either may be the one that hangs)."""
    got: dict[str, Any] = {}

    async def campaigns() -> None:
        got["campaigns"] = await _open_campaigns(daemon)

    async def in_doubt() -> None:
        got["gauges"] = await _outbox_in_doubt(daemon)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(campaigns)
        nursery.start_soon(in_doubt)
    return StoreFigures(**got)


class ScrapeFigures:
    """The store's figures for ``/metrics``, read in the background (one read at a time)."""

    def __init__(self, daemon: Daemon, nursery: trio.Nursery) -> None:
        self._read = Background(nursery, partial(read_store_figures, daemon))

    def refresh(self) -> None:
        """Start a read unless one is in flight (at start: the first scrape has figures)."""
        self._read.kick()

    async def latest(self) -> tuple[float, StoreFigures] | None:
        """The last figures read and when (trio time), after waiting for the read in
        flight (started now if none is) until it is :data:`FIGURES_WAIT_S` old."""
        attempt = self._read.kick()
        await attempt.wait_until(attempt.started + FIGURES_WAIT_S)
        if attempt.error is not None:  # a bug: each figure catches what the store raises
            log.error("reading the store's figures failed", exc_info=attempt.error)
        return self._read.latest

    async def gauges_and_campaigns(self) -> tuple[dict[str, float], tuple[Mapping[str, Any], ...]]:
        """What a scrape shows of the store: the figures when fresh enough, and how old
        they are (``metad_store_figures_age_seconds``, ``metad_store_figures_stale``)."""
        latest = await self.latest()
        if latest is None:
            return {"metad_store_figures_stale": 1.0}, ()
        at, figures = latest
        age = trio.current_time() - at
        gauges = {"metad_store_figures_age_seconds": age}
        if age > FIGURES_MAX_AGE_S:
            return {**gauges, "metad_store_figures_stale": 1.0}, ()
        return {**gauges, **figures.gauges, "metad_store_figures_stale": 0.0}, figures.campaigns


@dataclass(frozen=True, slots=True)
class StoreWatch:
    """The listener's background store calls: the readiness probe, the scrape figures."""

    probe: StoreProbe
    figures: ScrapeFigures

    @classmethod
    def start(cls, daemon: Daemon, nursery: trio.Nursery) -> StoreWatch:
        """Both in tasks of ``nursery``; the figures' first read starts now."""
        watch = cls(StoreProbe(daemon.store, nursery), ScrapeFigures(daemon, nursery))
        watch.figures.refresh()
        return watch


# --- /readyz and /metrics ----------------------------------------------------------------


def _daemon_reasons(daemon: Daemon) -> list[str]:
    """Why the daemon itself (not its store) is not ready."""
    reasons: list[str] = []
    if daemon.stop.is_set():
        reasons.append("stopping")
    down = daemon.supervisor.down
    if down:
        shown = ", ".join(down[:10]) + (f" and {len(down) - 10} more" if len(down) > 10 else "")
        reasons.append(f"actors not up: {shown}")
    if daemon.ingest_workers is not None:
        reasons.extend(daemon.ingest_workers.reasons())
    return reasons


async def readiness(
    daemon: Daemon, probe: StoreProbe | None = None, *, timeout: float = STORE_TIMEOUT_S
) -> list[str]:
    """Why the daemon is not ready; empty when it is. Without ``probe`` (a caller
    outside the listener) a probe of its own is used, whose exit waits for its call."""
    reasons = _daemon_reasons(daemon)
    if probe is None:
        async with store_probe(daemon.store) as own:
            store = await own.reason(timeout)
    else:
        store = await probe.reason(timeout)
    return reasons if store is None else [*reasons, store]


async def _budget(daemon: Daemon) -> dict[str, Any]:
    """The budget's status, or nothing after :data:`SNAPSHOT_TIMEOUT_S` in all (a call's
    own timeout applies twice when the mailbox is full: room, then the answer)."""
    with (
        trio.move_on_after(SNAPSHOT_TIMEOUT_S),
        contextlib.suppress(ActorCrashed, ActorStopped, CallTimeout),  # shown as absent
    ):
        status: dict[str, Any] = await daemon.fleet.budget.call(
            lambda r: GetBudget(reply=r), timeout=SNAPSHOT_TIMEOUT_S
        )
        return status
    return {}


@dataclass(slots=True)
class _Asked:
    """What one scrape gathered, concurrently (see :func:`_ask`)."""

    snaps: list[ChipSnapshot] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    budget: dict[str, Any] = field(default_factory=dict)
    store_gauges: dict[str, float] = field(default_factory=dict)
    campaigns: tuple[Mapping[str, Any], ...] = ()


async def _ask(daemon: Daemon, addresses: Mapping[str, Any], figures: ScrapeFigures) -> _Asked:
    """The chips, the budget and the store's figures, all at once: a scrape waits for
    the slowest (each bounded), not their sum."""
    asked = _Asked()

    async def chips() -> None:
        asked.snaps, asked.unanswered = await chip_snapshots(addresses, SNAPSHOT_TIMEOUT_S)

    async def budget() -> None:
        asked.budget = await _budget(daemon)

    async def store() -> None:
        asked.store_gauges, asked.campaigns = await figures.gauges_and_campaigns()

    async with trio.open_nursery() as nursery:
        for part in (chips, budget, store):
            nursery.start_soon(part)
    return asked


def _counters(daemon: Daemon) -> dict[str, int]:
    """Monotonic counts the processor, writer, webhook endpoint, bus and reloader keep."""
    processor, writer = daemon.processor.stats, daemon.store.writer.stats
    ingest = daemon.webhook.counters
    counters = {
        "metad_webhook_stored": ingest.stored,
        "metad_webhook_bad_signature": ingest.bad_signature,
        "metad_webhook_bad_json": ingest.bad_json,
        "metad_webhook_too_large": ingest.too_large,
        "metad_webhook_unavailable": ingest.unavailable,
        "metad_webhook_rows": processor.rows,
        "metad_webhook_duplicate_bodies": processor.duplicates,
        "metad_webhook_unknown_number_events": processor.unknown_number,
        "metad_webhook_events_applied": processor.events,
        "metad_store_writer_rows": writer.rows,
        "metad_store_writer_transactions": writer.transactions,
        "metad_store_writer_failed_rows": writer.failed_rows,
        "metad_bus_events_published": daemon.bus.published,
        "metad_bus_subscribers_cut": daemon.bus.dropped_subscribers,
    }
    if daemon.reloader is not None:
        counters["metad_config_reloads"] = daemon.reloader.reloads
        counters["metad_config_reload_failures"] = daemon.reloader.failures
    return counters


async def fleet_state(daemon: Daemon, figures: ScrapeFigures) -> FleetState:
    """Read what one scrape shows: the actors asked now, the store's figures as the
    background read last got them (a scrape never waits on the store itself)."""
    fleet, supervisor = daemon.fleet, daemon.supervisor
    addresses = {pnid: fleet.chip(pnid) for pnid in fleet.chip_ids}
    asked = await _ask(daemon, addresses, figures)
    workers = daemon.ingest_workers
    return FleetState(
        chips=tuple(asked.snaps),
        mailboxes={p: a.statistics().current_buffer_used for p, a in addresses.items()},
        unanswered=tuple(asked.unanswered),
        budget=asked.budget,
        campaigns=asked.campaigns,
        restarts={cid: supervisor.restarts(cid) for cid in supervisor.child_ids},
        down=tuple(supervisor.down),
        counters=_counters(daemon),
        gauges={
            "metad_bus_subscribers": float(daemon.bus.subscribers),
            **asked.store_gauges,
            **(
                {"metad_webhook_ingest_workers_up": float(len(workers.up))}
                if workers is not None
                else {}
            ),
        },
    )


# --- the ASGI app ------------------------------------------------------------------------


async def _respond(send: Any, status: int, body: bytes, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_ops_app(daemon: Daemon, metrics: Metrics, watch: StoreWatch) -> ASGIApp:
    """The ASGI app of the operations listener; ``watch`` asks the store for it."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"method not allowed\n", "text/plain; charset=utf-8")
        elif path == "/healthz":
            await _respond(send, 200, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/readyz":
            reasons = await readiness(daemon, watch.probe)
            body = json.dumps({"ready": not reasons, "reasons": reasons}).encode() + b"\n"
            await _respond(send, 503 if reasons else 200, body, "application/json")
        elif path == "/metrics":
            text = await metrics.exposition(lambda: fleet_state(daemon, watch.figures))
            await _respond(send, 200, text, CONTENT_TYPE)
        else:
            await _respond(send, 404, b"not found\n", "text/plain; charset=utf-8")

    return app


async def serve_ops(
    daemon: Daemon,
    metrics: Metrics,
    listen: str,
    *,
    shutdown: trio.Event,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the operations listener until ``shutdown``; ``started`` gets its base URL.

    The store is asked by tasks of the listener's own (:class:`StoreWatch`), ended with
    it; one still waiting on the bridge at the end holds the exit until it returns."""
    async with trio.open_nursery() as nursery:
        watch = StoreWatch.start(daemon, nursery)
        await serve_asgi(
            create_ops_app(daemon, metrics, watch),
            listen,
            what="metrics endpoint",
            shutdown=shutdown,
            task_status=task_status,
        )
        nursery.cancel_scope.cancel()
