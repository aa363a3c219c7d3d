"""Prometheus metrics: a few counters at the edges, the rest read at scrape time.

Why mostly at scrape time: the chips, the budget, the supervisor, the inbox processor and
the store writer already keep the numbers an operator wants (queue depths, open windows,
quality, spend, restarts); reading them when Prometheus asks costs nothing between
scrapes and cannot drift from what the console shows. Only what nothing keeps is counted
here, at the edges and never inside an actor: Graph API sends by outcome (a wrapper
around the chips' Graph port), webhook requests and their latency (an ASGI wrapper),
webhook events routed (a wrapper around the processor's sink), and store flush latency
(the writer's ``on_flush`` hook). What comes from the store (the open campaigns'
figures, messages in doubt) is the exception: the operations listener reads it in the
background and a scrape shows its last read (:mod:`daemon.health`), because a scrape
must answer exactly when the store does not.

Everything lives in one :class:`Metrics` with its own ``CollectorRegistry`` (never the
global one), so tests and several daemons in one process do not share series.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import trio
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from actors.chip import ChipSnapshot, GetSnapshot
from actors.chip.quality import Mode, Rating
from actors.core import ActorCrashed, ActorStopped, CallTimeout
from actors.ports import PortOutcome, SendAccepted, SendFailed
from daemon.logs import fields
from daemon.webhook import events as e

__all__ = [
    "CONTENT_TYPE",
    "CountingGraph",
    "CountingSink",
    "FleetState",
    "Metrics",
    "fleet_families",
    "instrument_asgi",
]

log = logging.getLogger("metad.traffic")
"""Sends and routed webhook events, one debug line each, by id."""

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The daemon's registry and the counters nothing else keeps."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.sends = Counter(
            "metad_sends",
            "Graph API send attempts by chip, method and outcome (accepted, failed, in_doubt)",
            ["chip", "method", "outcome"],
            registry=r,
        )
        self.send_errors = Counter(
            "metad_send_errors",
            "Failed sends by chip and Meta error code",
            ["chip", "code"],
            registry=r,
        )
        self.send_seconds = Histogram(
            "metad_send_seconds", "Graph API send latency", buckets=LATENCY_BUCKETS, registry=r
        )
        self.webhook_seconds = Histogram(
            "metad_webhook_request_seconds",
            "Webhook endpoint requests and latency by route, HTTP method and status code "
            "(a POST is answered once its body is stored)",
            ["route", "method", "code"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.webhook_events = Counter(
            "metad_webhook_events",
            "Webhook events applied, by kind, status (for message statuses) and whether an "
            "actor of this daemon owned them",
            ["kind", "status", "routed"],
            registry=r,
        )
        self.writer_flush_seconds = Histogram(
            "metad_store_writer_flush_seconds",
            "Time to commit one batch of the store's group-commit writer",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.store_pruned = Counter(
            "metad_store_pruned_rows",
            "Rows deleted by storage retention ([storage.retention]), by table",
            ["table"],
            registry=r,
        )
        self.fleet = FleetCollector()
        r.register(self.fleet)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, remembered: ``labels`` takes a lock and builds its
        key every time, and it ran for every send and every webhook event (1 % of the
        daemon's CPU at campaign rate). Label values are bounded (chips, codes, kinds)."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def webhook_posted(self, status: int, seconds: float) -> None:
        """The webhook front door's hook: one POST to the webhook path answered."""
        self.child(self.webhook_seconds, "webhook", "POST", str(status)).observe(seconds)

    def writer_flushed(self, rows: int, seconds: float) -> None:
        """The store writer's ``on_flush`` hook."""
        self.writer_flush_seconds.observe(seconds)

    def pruned(self, table: str, rows: int) -> None:
        """The retention job's hook: ``rows`` deleted from ``table``."""
        self.child(self.store_pruned, table).inc(rows)

    async def exposition(self, state: Callable[[], Awaitable[FleetState]]) -> bytes:
        """The text format, with the fleet read now (one scrape at a time)."""
        async with self.fleet.lock:
            self.fleet.state = await state()
            try:
                return generate_latest(self.registry)
            finally:
                self.fleet.state = None


# --- counted at the edges -------------------------------------------------------------


class CountingGraph:
    """The chips' Graph port, counting each send's outcome (and logging it at debug, by
    ids only: never the payload, which holds the message text); otherwise transparent."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def send(
        self,
        phone_number_id: str,
        payload: Mapping[str, Any],
        callback_data: str,
        endpoint: str = "messages",
    ) -> PortOutcome:
        started = trio.current_time()
        outcome: PortOutcome = await self._inner.send(
            phone_number_id, payload, callback_data, endpoint
        )
        self._metrics.send_seconds.observe(trio.current_time() - started)
        method = send_method(payload, endpoint)
        wamid = None
        if isinstance(outcome, SendAccepted):
            result, wamid = "accepted", outcome.wamid
        elif isinstance(outcome, SendFailed):
            result = "failed"
            m = self._metrics
            m.child(m.send_errors, phone_number_id, str(outcome.code or "none")).inc()
        else:
            result = "in_doubt"
        self._metrics.child(self._metrics.sends, phone_number_id, method, result).inc()
        if log.isEnabledFor(logging.DEBUG):  # a send's hot path: no fields built for nothing
            ids = {"chip": phone_number_id, "wamid": wamid, "ref": callback_data, "method": method}
            log.debug("send %s", result, extra=fields(**{k: v for k, v in ids.items() if v}))
        return outcome

    async def phone_number(self, phone_number_id: str) -> Mapping[str, object]:
        body: Mapping[str, object] = await self._inner.phone_number(phone_number_id)
        return body


def send_method(payload: Mapping[str, Any], endpoint: str) -> str:
    """``template``, ``marketing_messages`` or ``free_form``: what the chip chose."""
    if endpoint == "marketing_messages":
        return "marketing_messages"
    return "template" if payload.get("type") == "template" else "free_form"


class CountingSink:
    """The inbox processor's event sink, counting what it routes; otherwise transparent."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def deliver(self, event: e.Event) -> bool:
        routed = bool(await self._inner.deliver(event))
        status = event.status if isinstance(event, e.StatusUpdate) else ""
        m = self._metrics
        m.child(m.webhook_events, event.kind, status, "true" if routed else "false").inc()
        if log.isEnabledFor(logging.DEBUG):
            names = {"chip": "phone_number_id", "waba": "waba_id", "wamid": "wamid"}
            ids = {k: v for k, attr in names.items() if (v := getattr(event, attr, None))}
            log.debug(
                "webhook %s%s%s",
                event.kind,
                f" {status}" if status else "",
                "" if routed else " (no actor here)",
                extra=fields(**ids),
            )
        return routed


ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def instrument_asgi(app: ASGIApp, metrics: Metrics, *, path: str) -> ASGIApp:
    """Count and time every HTTP request to ``app``; ``route`` is ``webhook`` for
    ``path`` and ``other`` for anything else (bounded labels, whatever is requested)."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        started = trio.current_time()
        code = "500"

        async def send_spy(message: dict[str, Any]) -> None:
            nonlocal code
            if message.get("type") == "http.response.start":
                code = str(message.get("status", 500))
            await send(message)

        route = "webhook" if scope.get("path") == path else "other"
        method = str(scope.get("method", "GET"))
        if method not in ("GET", "POST"):
            method = "other"
        try:
            await app(scope, receive, send_spy)
        finally:
            elapsed = trio.current_time() - started
            metrics.child(metrics.webhook_seconds, route, method, code).observe(elapsed)

    return wrapped


# --- read at scrape time ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FleetState:
    """What one scrape reads from the running daemon (gathered in trio, then rendered)."""

    chips: tuple[ChipSnapshot, ...] = ()
    mailboxes: Mapping[str, int] = field(default_factory=dict)
    """Messages waiting in each chip's mailbox, by phone_number_id."""
    unanswered: tuple[str, ...] = ()
    """Chips that did not answer the snapshot call (restarting, stuck)."""
    budget: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    """The budget coordinator's status: per period, spent/reserved/cap as decimal strings."""
    campaigns: tuple[Mapping[str, Any], ...] = ()
    """The open campaigns' statuses (the coordinator's ``campaign.list`` rows), as the
    listener's background read last got them."""
    restarts: Mapping[str, int] = field(default_factory=dict)
    down: tuple[str, ...] = ()
    counters: Mapping[str, int] = field(default_factory=dict)
    """Monotonic counts kept elsewhere (processor, writer, bus, reloads), by metric name."""
    gauges: Mapping[str, float] = field(default_factory=dict)


COUNTER_HELP = {
    "metad_webhook_stored": "Signed webhook POSTs stored (answered 200)",
    "metad_webhook_bad_signature": "Webhook POSTs refused for a bad signature (401)",
    "metad_webhook_bad_json": "Webhook POSTs refused for a body that is not a JSON object (400)",
    "metad_webhook_too_large": "Webhook POSTs refused for their size (413)",
    "metad_webhook_unavailable": "Webhook POSTs not stored, answered 503 so Meta retries",
    "metad_webhook_rows": "Webhook bodies taken from the inbox and processed",
    "metad_webhook_duplicate_bodies": "Webhook bodies that repeated one already processed",
    "metad_webhook_unknown_number_events": "Webhook events for a number or WABA not in this daemon",
    "metad_webhook_events_applied": "Webhook events applied (first sightings)",
    "metad_store_writer_rows": "Rows committed by the store's group-commit writer",
    "metad_store_writer_transactions": "Transactions committed by the store's writer",
    "metad_store_writer_failed_rows": "Appends the store's writer could not commit",
    "metad_bus_events_published": "Events published on the console bus",
    "metad_bus_subscribers_cut": "Console subscribers cut off for falling behind",
    "metad_config_reloads": "Config reloads applied",
    "metad_config_reload_failures": "Config reloads refused (invalid file or secrets)",
}
GAUGE_HELP = {
    "metad_bus_subscribers": "Console subscribers attached now",
    "metad_outbox_in_doubt": (
        "Messages a crash left in doubt (metad never re-sends one itself: resolve them)"
    ),
    "metad_webhook_ingest_workers_up": "Webhook ingest worker processes accepting now",
    "metad_store_figures_age_seconds": (
        "Age of the figures read from the store (open campaigns, outbox in doubt): "
        "they are read in the background, a scrape never waits on the store"
    ),
    "metad_store_figures_stale": (
        "1 when the store has not answered for a minute or more (or not yet): its "
        "figures (open campaigns, outbox in doubt) are left out"
    ),
}


def _per_chip(
    name: str, doc: str, chips: Iterable[ChipSnapshot], value: Callable[[ChipSnapshot], float]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["chip"])
    for snap in chips:
        family.add_metric([snap.record.phone_number_id], value(snap))
    return family


def _one_of(
    name: str, doc: str, chips: Iterable[ChipSnapshot], label: str, states: Iterable[str], of: Any
) -> GaugeMetricFamily:
    """The enum pattern: one series per known state, 1 for the chip's current one."""
    family = GaugeMetricFamily(name, doc, labels=["chip", label])
    known = list(states)
    for snap in chips:
        current = str(of(snap))
        for state in [*known, *([current] if current not in known else [])]:
            family.add_metric([snap.record.phone_number_id, state], float(state == current))
    return family


def fleet_families(state: FleetState) -> Iterator[Metric]:
    """Render one scrape's state as metric families; pure."""
    chips = state.chips
    info = GaugeMetricFamily(
        "metad_chip_info", "One series per chip: its WABA and number", labels=["chip", "waba"]
    )
    for snap in chips:
        info.add_metric([snap.record.phone_number_id, snap.record.waba_id], 1.0)
    yield info
    yield _per_chip("metad_chip_queued", "Sends queued in the chip", chips, lambda s: s.queued)
    yield _per_chip(
        "metad_chip_in_flight", "Sends posted, answer pending", chips, lambda s: s.in_flight
    )
    mailbox = GaugeMetricFamily(
        "metad_chip_mailbox", "Messages waiting in the chip's mailbox", labels=["chip"]
    )
    for pnid, depth in sorted(state.mailboxes.items()):
        mailbox.add_metric([pnid], float(depth))
    yield mailbox
    yield _per_chip(
        "metad_chip_open_windows",
        "Contacts whose customer-service window is open",
        chips,
        lambda s: s.open_windows,
    )
    yield _one_of(
        "metad_chip_quality_rating",
        "Meta's quality rating of the number (1 for the current one)",
        chips,
        "rating",
        [r.value for r in Rating],
        lambda s: s.record.quality_rating,
    )
    yield _one_of(
        "metad_chip_quality_mode",
        "The chip's quality mode (1 for the current one)",
        chips,
        "mode",
        [m.value for m in Mode],
        lambda s: s.mode,
    )
    yield _per_chip("metad_chip_paused", "1 when paused", chips, lambda s: s.record.paused)
    yield _per_chip("metad_chip_draining", "1 when draining", chips, lambda s: s.draining)
    yield _per_chip(
        "metad_chip_throughput_mps", "Current send rate allowed", chips, lambda s: s.mps
    )
    yield _per_chip(
        "metad_chip_throughput_limit_mps",
        "Declared throughput",
        chips,
        lambda s: s.record.throughput_mps,
    )
    yield _per_chip(
        "metad_chip_tier_used",
        "New contacts reached in the messaging-limit window",
        chips,
        lambda s: s.tier_used,
    )
    tier_limit = GaugeMetricFamily(
        "metad_chip_tier_limit", "Messaging-limit tier (absent: unlimited)", labels=["chip"]
    )
    for snap in chips:
        if snap.tier_limit is not None:
            tier_limit.add_metric([snap.record.phone_number_id], float(snap.tier_limit))
    yield tier_limit
    unanswered = GaugeMetricFamily(
        "metad_chip_unanswered", "Chips that did not answer this scrape", labels=["chip"]
    )
    for pnid in state.unanswered:
        unanswered.add_metric([pnid], 1.0)
    yield unanswered
    yield from _budget_families(state.budget)
    yield from _campaign_families(state.campaigns)
    restarts = CounterMetricFamily(
        "metad_actor_restarts", "Restarts of an actor after a crash", labels=["actor"]
    )
    up = GaugeMetricFamily("metad_actor_up", "1 while the actor serves", labels=["actor"])
    for actor_id, count in sorted(state.restarts.items()):
        restarts.add_metric([actor_id], float(count))
        up.add_metric([actor_id], float(actor_id not in state.down))
    yield restarts
    yield up
    for name, doc in COUNTER_HELP.items():
        if name in state.counters:
            yield CounterMetricFamily(name, doc, value=float(state.counters[name]))
    for name, doc in GAUGE_HELP.items():
        if name in state.gauges:
            yield GaugeMetricFamily(name, doc, value=state.gauges[name])


def _budget_families(budget: Mapping[str, Mapping[str, str | None]]) -> Iterator[Metric]:
    families = {
        key: GaugeMetricFamily(
            f"metad_budget_{key}_usd", f"Budget {key} in the current period", labels=["period"]
        )
        for key in ("spent", "reserved", "cap")
    }
    for period, row in sorted(budget.items()):
        for key, family in families.items():
            value = row.get(key)
            if value is not None:  # no cap: no series
                family.add_metric([period], float(Decimal(value)))
    yield from families.values()


CAMPAIGN_COUNTS = ("pending", "sent", "delivered", "read", "failed", "skipped", "in_doubt")
"""The figures of an open campaign shown per state (``metad_campaign_messages``)."""


def _campaign_families(campaigns: Iterable[Mapping[str, Any]]) -> Iterator[Metric]:
    """Per open campaign: its state, messages per state, messages in doubt past their
    hold (what an alert should page on: only the operator resolves them) and cost."""
    state = GaugeMetricFamily(
        "metad_campaign_state", "1 for an open campaign's state", labels=["campaign", "state"]
    )
    messages = GaugeMetricFamily(
        "metad_campaign_messages",
        "An open campaign's recipients and messages by state",
        labels=["campaign", "state"],
    )
    overdue = GaugeMetricFamily(
        "metad_campaign_in_doubt_overdue",
        "An open campaign's messages in doubt past their hold, waiting for the operator",
        labels=["campaign"],
    )
    cost = GaugeMetricFamily(
        "metad_campaign_cost_usd", "What an open campaign has spent", labels=["campaign"]
    )
    for c in campaigns:
        name = str(c.get("id", ""))
        state.add_metric([name, str(c.get("state", ""))], 1.0)
        for key in CAMPAIGN_COUNTS:
            messages.add_metric([name, key], float(c.get(key) or 0))
        overdue.add_metric([name], float(len(c.get("in_doubt_overdue") or ())))
        cost.add_metric([name], float(c.get("cost_usd") or 0.0))
    yield from (state, messages, overdue, cost)


class FleetCollector(Collector):
    """Yields the families of the state gathered for the scrape in progress."""

    def __init__(self) -> None:
        self.state: FleetState | None = None
        self.lock = trio.Lock()

    def collect(self) -> Iterator[Metric]:
        if self.state is not None:
            yield from fleet_families(self.state)

    def describe(self) -> Iterator[Metric]:
        return iter(())


async def chip_snapshots(
    addresses: Mapping[str, Any], timeout: float
) -> tuple[list[ChipSnapshot], list[str]]:
    """Each chip's snapshot, asked of all at once; the ids that did not answer.

    ``timeout`` bounds the whole: a call's own timeout applies twice over (once to wait
    for room in a full mailbox, once for the answer), so a chip stuck with a full mailbox
    held a scrape for twice as long; each ask also stops at the common deadline."""
    answers: dict[str, ChipSnapshot] = {}
    deadline = trio.current_time() + timeout

    async def ask(pnid: str, address: Any) -> None:
        with (
            trio.move_on_at(deadline),
            contextlib.suppress(ActorCrashed, ActorStopped, CallTimeout),
        ):
            answers[pnid] = await address.call(lambda r: GetSnapshot(reply=r), timeout=timeout)

    async with trio.open_nursery() as nursery:
        for pnid, address in addresses.items():
            nursery.start_soon(ask, pnid, address)
    snaps = [answers[p] for p in addresses if p in answers]
    return snaps, [p for p in addresses if p not in answers]
