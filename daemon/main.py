"""The daemon process: storage, Graph client, actors, inbox processor, webhook endpoint.

Why this order: actors rebuild from storage, so storage comes first and goes last; the
webhook endpoint opens only once every actor has loaded its state and the inbox
processor has drained what a previous run left, so "READY" means "answers correctly",
not "process exists". In sandbox mode the Graph API simulator is served in the same
nursery (``[sandbox] serve``), so the default config runs with one command.

Shutdown (SIGTERM/SIGINT, or :attr:`Daemon.stop`): stop taking webhooks and new work,
close every mailbox so each actor finishes what it holds, then leave the store, which
flushes its writer and stops the embedded PostgreSQL. The whole sequence is bounded by
``daemon.shutdown_timeout_s``; whatever has not finished by then is cancelled.

Signals are watched from the first moment of :func:`run_daemon` to its last; what they
do before READY, after it and while stopping is :mod:`daemon.signals`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import trio

from actors.campaign.coordinator import CampaignMsg
from actors.core import Address
from actors.waba import SyncTemplates
from config import MetadConfig, ResolvedSecrets, resolve_secrets
from config.errors import ConfigError, ConfigIssue
from daemon import gctune
from daemon.budget_alerts import OncePerFleet, serve_alert_webhook
from daemon.bus import Bus, BusLogHandler
from daemon.campaigns.actor import Campaigns
from daemon.campaigns.taps import CampaignTaps
from daemon.cluster import InboxPlacement, Leases, NodeIdInUse, default_node_id, while_leader
from daemon.control.methods import ControlContext
from daemon.control.server import publish_forever, serve_control
from daemon.fleet import Fleet
from daemon.flows.wiring import FlowCompletions, build_endpoint
from daemon.graph import GraphClient
from daemon.graph.addressing import Addressing, LearnBsuids
from daemon.graph.port import ChipGraph, WabaGraph
from daemon.health import StoreProbe, serve_ops
from daemon.jobs import run_jobs
from daemon.keeper import WindowKeeper
from daemon.logs import fields
from daemon.metrics import CountingGraph, CountingSink, Metrics, instrument_asgi
from daemon.otp import ShiftTaps
from daemon.reloader import Reloader, live_graph_client, reload_on_sighup, token_table
from daemon.signals import Stopping, ask_for_time, stop_signals, watch_signals
from daemon.statelock import state_dir_lock
from daemon.store import Store, open_store
from daemon.store.otp import ContactKeys
from daemon.supervisor import Intensity, Supervisor, SupervisorEvent
from daemon.systemd import Notifier, watchdog
from daemon.webhook.app import create_app
from daemon.webhook.front import serve_front
from daemon.webhook.ingest import WebhookIngest
from daemon.webhook.processor import InboxProcessor
from daemon.webhook.route import FleetRouter
from daemon.webhook.server import serve_asgi
from daemon.webhook.worker import WorkerSettings
from daemon.webhook.workers import WorkerStatus, serve_ingest_workers

__all__ = ["Daemon", "run_daemon"]

log = logging.getLogger("metad.daemon")


@dataclass(slots=True)
class Daemon:
    """Handles to a running daemon, given to ``task_status.started`` (tests, control)."""

    cfg: MetadConfig
    store: Store
    supervisor: Supervisor
    fleet: Fleet
    graph: GraphClient
    processor: InboxProcessor
    webhook: WebhookIngest
    bus: Bus
    webhook_url: str = ""
    sim_url: str = ""
    control_socket: str = ""
    stop: trio.Event = field(default_factory=trio.Event)
    events: list[SupervisorEvent] = field(default_factory=list)
    reloader: Reloader | None = None
    leases: Leases | None = None
    """This daemon's chip leases (several daemons on one PostgreSQL, daemon.cluster)."""
    metrics: Metrics = field(default_factory=Metrics)
    metrics_url: str = ""
    """Base URL of the operations listener (``/metrics``, ``/healthz``, ``/readyz``)."""
    ingest_workers: WorkerStatus | None = None
    """The webhook ingest workers' state, when ``[webhook] ingest_workers`` is set."""
    campaigns: Address[CampaignMsg] | None = None
    """The campaign coordinator (metrics ask it for the open campaigns' figures)."""


async def run_daemon(
    cfg: MetadConfig,
    *,
    handle_signals: bool = True,
    task_status: trio.TaskStatus[Daemon] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run until stopped; raises on a failure to start or on a crash loop.

    ``handle_signals``: the daemon owns its process (``metad run``): it takes SIGTERM,
    SIGINT and SIGHUP, and tunes the garbage collector once started
    (:mod:`daemon.gctune`). Tests that run daemons inside their own process say False.
    SIGTERM and SIGINT are taken before anything starts, until after ``stopped`` is
    logged (:mod:`daemon.signals`)."""
    with stop_signals(handle_signals) as signals:
        cfg = _graph_in_sandbox(cfg)
        secrets = resolve_secrets(cfg)  # fail before anything starts when a secret is unreadable
        with state_dir_lock(cfg.daemon.state_dir):
            await _serve(cfg, secrets, handle_signals, signals, task_status=task_status)
        log.info("stopped")


def _graph_in_sandbox(cfg: MetadConfig) -> MetadConfig:
    """When this process serves the simulator, the Graph API *is* the simulator."""
    if not (cfg.sandbox.enabled and cfg.sandbox.serve):
        return cfg
    url = f"http://{cfg.sandbox.listen}"
    if cfg.graph.base_url != url:
        log.info("sandbox: Graph API calls go to the simulator at %s", url)
    graph = cfg.graph.model_copy(update={"base_url": url})
    return cfg.model_copy(update={"graph": graph})


async def _serve(
    cfg: MetadConfig,
    secrets: ResolvedSecrets,
    handle_signals: bool,
    signals: AsyncIterator[int] | None,
    *,
    task_status: trio.TaskStatus[Daemon],
) -> None:
    s = cfg.supervisor
    events: list[SupervisorEvent] = []
    bus = Bus()

    def on_actor_event(event: SupervisorEvent) -> None:
        events.append(event)
        bus.publish("actor", dataclasses.asdict(event))

    supervisor = Supervisor(
        "root",
        Intensity(s.max_restarts, s.period_s, s.backoff_min_s, s.backoff_max_s),
        on_event=on_actor_event,
    )
    log_handler = BusLogHandler(bus, trio.lowlevel.current_trio_token())
    logging.getLogger().addHandler(log_handler)
    stopping = Stopping(trio.Event(), trio.Event(), Notifier())
    try:
        async with trio.open_nursery() as nursery:
            if signals is not None:
                grace_s = cfg.daemon.shutdown_timeout_s
                nursery.start_soon(watch_signals, signals, stopping, grace_s)
            nursery.start_soon(ask_for_time, stopping)
            with stopping.start:  # a signal before READY cancels the start from here
                await _serve_with(
                    cfg, secrets, handle_signals, supervisor, bus, events, stopping, task_status
                )
            nursery.cancel_scope.cancel()
    finally:
        logging.getLogger().removeHandler(log_handler)


async def _serve_with(
    cfg: MetadConfig,
    secrets: ResolvedSecrets,
    handle_signals: bool,
    supervisor: Supervisor,
    bus: Bus,
    events: list[SupervisorEvent],
    stopping: Stopping,
    task_status: trio.TaskStatus[Daemon],
) -> None:
    """``stopping``: systemd's notifier; ``ready``, set when the daemon says READY (until
    then :func:`~daemon.systemd.while_starting` asks systemd for more time); the
    :attr:`Daemon.stop` event."""
    notifier, ready = stopping.notifier, stopping.ready
    tokens = token_table(secrets)  # the Graph client's table: a reload updates it in place
    metrics = Metrics()
    async with (
        open_store(cfg.storage, state_dir=cfg.daemon.state_dir) as store,
        live_graph_client(cfg, tokens) as graph,
    ):
        store.writer.on_flush = metrics.writer_flushed
        node_id = cfg.cluster.node_id or default_node_id()
        # Budget alerts reach the bus once claimed: once per crossing, fleet-wide.
        alerts = OncePerFleet(bus.publish, partial(store.budget_journal.claim_alerts, node=node_id))
        addressing = Addressing(cfg.contacts.send_to)
        addressing.load(await ContactKeys(store).bsuids())
        fleet = Fleet(
            cfg,
            chips=store.chips,
            wabas=store.wabas,
            journal=store.chip_journal,
            graph=CountingGraph(ChipGraph(graph, addressing=addressing), metrics),
            budget_journal=store.budget_journal,
            supervisor=supervisor,
            templates=store.templates,
            template_source=WabaGraph(graph),
            publish=alerts.publish,
        )
        # Counted where events reach the actors (the taps around it only observe).
        routed = CountingSink(FleetRouter(fleet), metrics)
        campaigns = Campaigns(cfg, fleet, store, publish=bus.publish)
        flows_router = FlowCompletions(routed, bus.publish)
        router = LearnBsuids(
            ShiftTaps.around(flows_router, cfg, store, fleet, bus.publish), addressing
        )
        processor = InboxProcessor(store, CampaignTaps(router, store, bus.publish))
        leases = Leases(
            store,
            node_id=node_id,
            chips=[c.phone_number_id for c in cfg.chips],
            mode=cfg.cluster.chips,
            lease_s=cfg.cluster.lease_s,
            on_notify=processor.wake,
        )
        processor.placement = InboxPlacement(leases, fleet.chip_id_by_display)
        if cfg.cluster.clustered:
            fleet.shared_budget = store.budget_journal
            campaigns.share = lambda: len(leases.running) / max(1, len(leases.chips))
        assert secrets.app_secret is not None  # resolve_secrets guarantees both
        assert secrets.verify_token is not None
        ingest = WebhookIngest(
            path=cfg.webhook.path,
            app_secret=secrets.app_secret.encode(),
            max_body_bytes=cfg.webhook.max_body_bytes,
            inbox=store.inbox,
            on_stored=processor.wake,
        )
        app = create_app(
            path=cfg.webhook.path,
            verify_token=secrets.verify_token,
            flows=endpoint.in_front_of if (endpoint := build_endpoint(cfg, secrets)) else None,
        )
        daemon = Daemon(cfg, store, supervisor, fleet, graph, processor, ingest, bus, events=events)
        daemon.stop = stopping.stop  # what a signal sets (watch_signals)
        daemon.metrics = metrics
        daemon.leases = leases
        http_stop = trio.Event()
        async with (
            _store_abandoned_past(store, stopping.stop, cfg.daemon.shutdown_timeout_s),
            trio.open_nursery() as nursery,
        ):
            if cfg.sandbox.enabled and cfg.sandbox.serve:
                from sim.server import serve_sim

                daemon.sim_url = await nursery.start(
                    lambda task_status: serve_sim(
                        cfg,
                        webhook_url=f"http://{cfg.webhook.listen}{cfg.webhook.path}",
                        shutdown_trigger=http_stop.wait,
                        task_status=task_status,
                    )
                )
            await nursery.start(serve_alert_webhook, cfg.budget, bus)
            await nursery.start(alerts.run)
            # The first renewal leases the chips this daemon starts with (every chip when
            # it runs alone); later changes go through the reloader's start/stop.
            try:
                await nursery.start(leases.run)
            except NodeIdInUse as exc:
                raise _config_error(cfg, ("cluster", "node_id"), str(exc)) from None
            leases.running = set(leases.held)
            actors_done = trio.Event()
            await nursery.start(
                _run_actors, supervisor, fleet, campaigns, actors_done, leases.running
            )
            processor_scope = trio.CancelScope()
            await nursery.start(_run_processor, processor, processor_scope)
            if cfg.webhook.ingest_workers:
                daemon.ingest_workers = WorkerStatus(cfg.webhook.ingest_workers)
            base = await _serve_webhooks(
                nursery,
                cfg,
                instrument_asgi(app, metrics, path=cfg.webhook.path),
                ingest,
                store,
                secrets,
                http_stop,
                daemon.ingest_workers,
                metrics,
            )
            daemon.webhook_url = f"{base}{cfg.webhook.path}"
            control = ControlContext(
                cfg,
                fleet,
                store,
                bus,
                webhook_url=daemon.webhook_url,
                sim_url=daemon.sim_url,
                statuses=lambda: processor.stats.events,
                graph=graph,
                campaigns=campaigns.address,
                cluster=leases,
                store_check=StoreProbe(store, nursery).reason,
            )
            daemon.campaigns = campaigns.address
            daemon.reloader = reloader = _reloader(daemon, control, secrets, tokens)
            nursery.start_soon(leases.reconcile, reloader.start_chips, _stopper(reloader))
            socket_path = await nursery.start(
                serve_control, control, cfg.daemon.runtime_dir / "metad.sock"
            )
            daemon.control_socket = str(socket_path)
            nursery.start_soon(publish_forever, control)
            nursery.start_soon(_sync_templates, fleet)
            nursery.start_soon(
                while_leader,
                leases,
                lambda: run_jobs(
                    store,
                    cfg.tz,
                    cfg.storage.retention,
                    metrics.pruned,
                    lambda: leases.chip_set,
                ),
            )
            nursery.start_soon(WindowKeeper.for_fleet(cfg, store, fleet, bus.publish).run)
            if handle_signals:
                await nursery.start(reload_on_sighup, daemon.reloader)
            if cfg.metrics.listen:
                daemon.metrics_url = await nursery.start(
                    lambda task_status: serve_ops(
                        daemon,
                        metrics,
                        cfg.metrics.listen,
                        shutdown=http_stop,
                        task_status=task_status,
                    )
                )
            chips, wabas = fleet.counts
            if handle_signals:  # our process: start-up is over, what it made lives on
                gctune.settle()
            log.info(
                "READY",
                extra=fields(
                    chips=chips,
                    wabas=wabas,
                    storage="embedded" if not cfg.storage.dsn else "external",
                    webhook=daemon.webhook_url,
                    control=daemon.control_socket,
                    metrics=daemon.metrics_url or "off",
                    sandbox=daemon.sim_url or cfg.sandbox.enabled,
                ),
            )
            ready.set()
            notifier.notify(READY=1, STATUS=await _status_line(daemon))
            nursery.start_soon(
                watchdog, notifier, lambda: _healthy(daemon), lambda: _status_line(daemon)
            )
            task_status.started(daemon)
            # A crash loop ends _run_actors with an error, which cancels this wait.
            await daemon.stop.wait()
            notifier.notify(STOPPING=1, STATUS="stopping")
            http_stop.set()
            leases.close()
            campaigns.close()
            await _shutdown(cfg, supervisor, fleet, actors_done)
            processor_scope.cancel()
            nursery.cancel_scope.cancel()


ABANDON_STORE_AT = 0.8
"""Share of ``daemon.shutdown_timeout_s`` after which a shutdown still under way closes
the store's connections (:func:`_store_abandoned_past`): the actors have had 0.6 of it
and their cancellation the next 0.2; what is left covers the store's own exit."""


@contextlib.asynccontextmanager
async def _store_abandoned_past(
    store: Store, stop: trio.Event, timeout_s: float
) -> AsyncIterator[None]:
    """Hold ``daemon.shutdown_timeout_s`` even when the store does not answer.

    Why: cancelling a task does not cut short its store call (the bridge waits for
    asyncpg, asyncpg for the server), so with PostgreSQL stopped or its network silent a
    SIGTERM left the daemon waiting for the outage's end, past the bound the config
    promises and into systemd's SIGKILL. Once stopping has run for
    :data:`ABANDON_STORE_AT` of the bound, the store's connections are closed: the calls
    in flight fail at once, as in a crash, and the shutdown ends."""

    async def cut() -> None:
        await stop.wait()
        await trio.sleep(timeout_s * ABANDON_STORE_AT)
        log.warning(
            "still stopping after %.1fs, most likely waiting on a store that does not"
            " answer: closing its connections (what was in flight fails, as in a crash)",
            timeout_s * ABANDON_STORE_AT,
        )
        await store.abandon()

    async with trio.open_nursery() as guard:
        guard.start_soon(cut)
        yield
        guard.cancel_scope.cancel()


async def _serve_webhooks(
    nursery: trio.Nursery,
    cfg: MetadConfig,
    asgi: Any,
    ingest: WebhookIngest,
    store: Store,
    secrets: ResolvedSecrets,
    stop: trio.Event,
    status: WorkerStatus | None,
    metrics: Metrics,
) -> str:
    """Open the webhook endpoint; its base URL.

    The app (handshake, Flows, health) listens on a Unix socket; the configured address
    is taken by the front door (:mod:`daemon.webhook.front`), in this process or, with
    ``ingest_workers``, in worker processes: webhook POSTs are taken there, the rest is
    relayed to the app.
    """
    upstream = (cfg.daemon.runtime_dir / "webhook-app.sock").resolve()
    upstream.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        upstream.unlink()  # left by a daemon that died; the state lock says none runs
    await nursery.start(
        lambda task_status: serve_asgi(
            asgi, f"unix:{upstream}", what="webhook app", shutdown=stop, task_status=task_status
        )
    )
    workers = cfg.webhook.ingest_workers
    if not workers or status is None:
        return str(
            await nursery.start(
                lambda task_status: serve_front(
                    cfg.webhook.listen,
                    ingest,
                    str(upstream),
                    shutdown=stop,
                    observe=metrics.webhook_posted,
                    task_status=task_status,
                )
            )
        )
    assert secrets.app_secret is not None
    settings = WorkerSettings(
        dsn=store.dsn,
        path=cfg.webhook.path,
        app_secret=secrets.app_secret,
        max_body_bytes=cfg.webhook.max_body_bytes,
        upstream=str(upstream),
        writer_batch_rows=cfg.storage.writer_batch_rows,
        writer_flush_ms=cfg.storage.writer_flush_ms,
        log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower(),
        log_format=cfg.daemon.log_format,
    )
    return str(
        await nursery.start(
            lambda task_status: serve_ingest_workers(
                cfg.webhook.listen,
                settings,
                workers,
                ingest.counters,
                shutdown=stop,
                status=status,
                task_status=task_status,
            )
        )
    )


async def _run_actors(
    supervisor: Supervisor,
    fleet: Fleet,
    campaigns: Campaigns,
    done: trio.Event,
    chips: set[str],
    *,
    task_status: trio.TaskStatus[None],
) -> None:
    try:
        # The campaign coordinator starts last: it resumes campaigns through the chips.
        await supervisor.run([*fleet.specs(chips), campaigns.spec()], task_status=task_status)
    finally:
        done.set()


def _config_error(cfg: MetadConfig, loc: tuple[str, ...], message: str) -> ConfigError:
    """A problem found at start that the config must fix, pointing at its line."""
    source = cfg.source
    if source is None:
        return ConfigError([ConfigIssue("config", None, ".".join(loc), message)])
    return ConfigError([source.issue(loc, message)])


def _reloader(
    daemon: Daemon, control: ControlContext, secrets: ResolvedSecrets, tokens: dict[str, str]
) -> Reloader:
    """The config reloader (SIGHUP, ``config.reload``); it hands on each applied config."""

    def applied(new: MetadConfig) -> None:
        daemon.cfg = control.cfg = new

    async def leased(new: MetadConfig) -> None:
        if daemon.leases is not None:
            daemon.leases.configure([c.phone_number_id for c in new.chips], new.cluster.chips)
            await daemon.leases.refresh(timeout=daemon.cfg.daemon.shutdown_timeout_s)

    reloader = Reloader(
        daemon.cfg,
        secrets,
        fleet=daemon.fleet,
        supervisor=daemon.supervisor,
        tokens=tokens,
        prepare=_graph_in_sandbox,
        on_applied=applied,
        publish=daemon.bus.publish,
        drain_timeout_s=daemon.cfg.daemon.shutdown_timeout_s,
        leased=leased,
        settle_removed=daemon.store.chip_journal.settle_abandoned,
    )
    control.reload = reloader.reload
    return reloader


def _stopper(reloader: Reloader) -> Callable[[list[str], bool], Awaitable[None]]:
    async def stop(chips: list[str], drain: bool) -> None:
        await reloader.stop_chips(chips, drain=drain)

    return stop


async def _healthy(daemon: Daemon) -> bool:
    """The store answers and no actor has crash-looped."""
    if any(e.kind == "gave_up" for e in daemon.events):
        return False
    try:
        return bool(await daemon.store.fetchval("SELECT 1") == 1)
    except Exception:
        return False


async def _status_line(daemon: Daemon) -> str:
    chips, wabas = daemon.fleet.counts
    stats = daemon.processor.stats
    paused = 0
    for actor in daemon.fleet.actors.values():
        paused += bool(actor.record.paused)
    return (
        f"{chips} chips ({paused} paused), {wabas} WABAs, "
        f"{sum(a.accepted for a in daemon.fleet.actors.values())} sent, "
        f"{stats.events} webhook events"
    )


async def _sync_templates(fleet: Fleet) -> None:
    """Learn every WABA's templates at start; a failure is logged, ``templates.sync`` retries."""
    for waba_id in fleet.waba_ids:
        try:
            count: int = await fleet.waba(waba_id).call(
                lambda r: SyncTemplates(reply=r), timeout=60
            )
        except Exception as exc:
            log.warning("template sync of WABA %s failed: %s", waba_id, exc)
        else:
            log.info("WABA %s: %d templates", waba_id, count)


async def _run_processor(
    processor: InboxProcessor, scope: trio.CancelScope, *, task_status: trio.TaskStatus[None]
) -> None:
    with scope:
        await processor.run(task_status=task_status)


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
